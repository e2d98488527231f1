"""After a run only the agencies it touched are judged again (monitor.rejudge): real demo pages archived in two
runs, the first judged in full, the second bringing news for some agencies and the same bytes for others."""
from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date

from sqlalchemy import event

from demo.portals import DemoPortals
from monitor import coverage
from monitor.rejudge import new_reports_of_run, rejudge, report_years, touched_by_run
from monitor.verdicts import judge
from storage.archive import Archive
from storage.catalog import queries
from storage.export import note_segments, select_captures
from tests.test_monitor import BASE, Stage, at, open_stage, report_path
from web.context import WebContext
from web.runs import run_data, runs_data

AS_OF = date(2025, 7, 1)


def stored(stage: Stage) -> dict[tuple[str, int], tuple]:
    with stage.catalog.reading() as session:
        return {(v.agency_id, v.report_year): (v.computed_at, v.status, v.flags, v.evidence)
                for v in queries.verdicts(session)}


def test_a_run_rejudges_the_agencies_it_brought_news_of_and_leaves_the_others(tmp_path):
    stage = open_stage(tmp_path / "data")
    reports = {("sfq-wjj", 2023): "2024-01-29 11:00", ("sfq-gov", 2023): "2024-03-20 10:00",
               ("sfq-ybj", 2022): "2023-01-18 10:00", ("sfq-ybj", 2023): "2024-01-31 17:00",
               ("ylx-wjj", 2021): "2022-01-21 09:00"}
    for (agency, year), when in reports.items():
        stage.parse(stage.fetch(1, report_path(agency, year), when, agency, role="item"), agency)
    stage.read_column("ylx-wjj", "2024-03-01 09:00")   # its 2022 report never came: 未发布, on this read
    judge(stage.catalog, as_of=AS_OF, years=[2022, 2023])
    first = stored(stage)
    assert first[("ylx-wjj", 2022)][1] == "missing"
    stage.archive.close()

    second = Stage(stage.config, Archive.open(stage.config, durability="os"))   # the next crawl run
    try:
        # the same bytes again: no news
        second.fetch(1, report_path("sfq-ybj", 2023), "2025-06-30 09:00", "sfq-ybj", role="item")
        second.fetch(1, report_path("ylx-wjj", 2021), "2025-06-30 09:00", "ylx-wjj", role="item")
        # an edited report (parsed, as the crawler parses every version), a report that is gone, a column read
        second.parse(second.fetch(2, report_path("sfq-wjj", 2023), "2025-06-30 09:00", "sfq-wjj", role="item"),
                     "sfq-wjj")
        second.archive.record_fetch(BASE + report_path("sfq-gov", 2023), "GET", [], 404, "Not Found",
                                    [("Content-Type", "text/html")], b"gone", fetched_at=at("2025-06-30 09:00"),
                                    agency_id="sfq-gov")
        second.read_column("ylx-wjj", "2025-06-30 09:00")
        second.read_column("sfq-ybj", "2025-06-30 09:00")   # an agency with a report for every year: no news

        touched = touched_by_run(second.catalog, second.archive.run_id, as_of=AS_OF)
        assert touched == {"sfq-wjj", "sfq-gov", "ylx-wjj"}
        reports = new_reports_of_run(second.catalog, second.archive.run_id)
        done = rejudge(second.catalog, touched, as_of=AS_OF, years=[2022, 2023], report_years=report_years(reports),
                       new_reports=[report.id for report in reports])
    finally:
        second.archive.close()

    after = stored(second)
    assert done.agencies == 3 and done.judged == sum(1 for key in after if key[0] in touched)
    assert done.changes == {}   # flags and evidence moved, no status did
    for key in after:
        if key[0] in touched:
            assert after[key][0] > first[key][0], key                 # judged again
        else:
            assert after[key] == first[key], key                      # the row as it was, computed_at included
    assert "changed" in after[("sfq-wjj", 2023)][2] and "removed" in after[("sfq-gov", 2023)][2]
    # the newest read of the column is the evidence of 未发布 now
    assert after[("ylx-wjj", 2022)][3]["coverage"]["read_at"].startswith("2025-06-30")
    # judged again in full, every verdict is what the incremental re-judge stored
    judge(second.catalog, as_of=AS_OF, years=[2022, 2023])
    assert {key: row[1:] for key, row in stored(second).items()} == {key: row[1:] for key, row in after.items()}


def test_time_alone_brings_a_pending_verdict_due_and_a_new_year_judged(tmp_path):
    stage = open_stage(tmp_path / "data")
    try:
        stage.parse(stage.fetch(1, report_path("sfq-gov", 2023), "2024-03-20 10:00", "sfq-gov", role="item"),
                    "sfq-gov")
        judge(stage.catalog, as_of=date(2025, 3, 1), years=[2024])   # a government's 2024 report: due 2025-03-31
        with stage.catalog.reading() as session:
            assert {(v.agency_id, v.report_year): v.status for v in queries.verdicts(session)}[("sfq-gov", 2024)] \
                == "pending"
        with Archive.open(stage.config, durability="os") as run:   # a run that brought nothing new
            quiet = run.run_id
        assert touched_by_run(stage.catalog, quiet, as_of=date(2025, 3, 1), agency_ids=["sfq-gov"]) == set()
        assert touched_by_run(stage.catalog, quiet, as_of=date(2025, 4, 1), agency_ids=["sfq-gov"]) == {"sfq-gov"}
        with stage.catalog.session() as session:   # an agency added to the registry since
            queries.upsert_agency(session, "new-agency", "新增机关", level="department")
        assert touched_by_run(stage.catalog, quiet, as_of=date(2025, 3, 1), agency_ids=["sfq-gov", "new-agency"],
                              years=[2024]) == {"new-agency"}   # no verdict of the year yet
    finally:
        stage.archive.close()


def test_a_copy_stored_by_a_run_brings_the_agency_it_copied_to_be_judged_again(tmp_path):
    stage = open_stage(tmp_path / "data")
    stage.parse(stage.fetch(1, report_path("sfq-wjj", 2023), "2024-01-29 11:00", "sfq-wjj", role="item"), "sfq-wjj")
    judge(stage.catalog, as_of=AS_OF, years=[2023])
    stage.archive.close()

    second = Stage(stage.config, Archive.open(stage.config, durability="os"))
    try:   # another agency publishes sfq-wjj's report word for word, under its own name
        page = DemoPortals(1).resource(report_path("sfq-wjj", 2023))
        body = page.body.decode("gb18030").replace("示范区卫生健康局", "示范区医疗保障局").encode("gb18030")
        second.parse(second.store_bytes(BASE + "/jsportal/c/2024-02-10/twin.shtml", body, page.content_type,
                                        "2024-02-10 10:00", "sfq-ybj"), "sfq-ybj")
        touched = touched_by_run(second.catalog, second.archive.run_id, as_of=AS_OF)
        assert touched == {"sfq-ybj"}
        reports = new_reports_of_run(second.catalog, second.archive.run_id)
        done = rejudge(second.catalog, touched, as_of=AS_OF, years=[2023], report_years=report_years(reports),
                       new_reports=[report.id for report in reports])
    finally:
        second.archive.close()

    verdicts = stored(second)
    # the copied agency was not touched by the run, but copy detection paired it with the run's report
    assert done.agencies == 2
    for agency, other in (("sfq-ybj", "sfq-wjj"), ("sfq-wjj", "sfq-ybj")):
        assert "copied" in verdicts[(agency, 2023)][2]
        assert verdicts[(agency, 2023)][3]["copied"]["other_agency_id"] == other


def test_a_year_without_a_report_between_reported_years_and_the_year_asked_is_judged_and_stored(tmp_path):
    """A crawl judges the year just due; an agency with reports for 2017 and 2021 only also gets a stored verdict
    for 2018-2020 and 2022-2023 (未发布 where the column read proves it), so the dashboard and the alerts show the
    years it may have missed without anyone asking `xxgk status` for each; a year before its first report is not
    opened by one asked before it."""
    stage = open_stage(tmp_path / "data")
    for year, when in ((2017, "2018-03-20 16:05"), (2021, "2022-01-21 09:00")):
        stage.parse(stage.fetch(1, report_path("ylx-wjj", year), when, "ylx-wjj", role="item"), "ylx-wjj")
    read = stage.read_column("ylx-wjj", "2024-03-01 09:00")   # after 2023's deadline, reaching back before 2022's
    stage.archive.close()
    rejudge(stage.catalog, ["ylx-wjj"], as_of=AS_OF, years=[2023, 2012])
    statuses = {year: row[1] for (agency, year), row in stored(stage).items() if agency == "ylx-wjj"}
    assert sorted(statuses) == [2012, 2017, 2018, 2019, 2020, 2021, 2022, 2023]
    assert statuses[2017] != "missing" and statuses[2021] != "missing"
    # years without a report: 未发布 where the column read after the deadline reaches back to it, else 无法判断
    assert {statuses[year] for year in (2018, 2019, 2020, 2012)} <= {"missing", "undetermined"}
    assert read.earliest_item <= date(2023, 1, 31) and statuses[2022] == statuses[2023] == "missing"


def _copied_source(stage: Stage) -> tuple[str, str]:
    """样例区卫生健康局's 2021 report archived at its address, and 示范区医疗保障局 publishing it as its own."""
    source, path = "ylx-wjj", report_path("ylx-wjj", 2021)
    stage.parse(stage.fetch(1, path, "2022-01-21 09:00", source, role="item"), source)
    page = DemoPortals(1).resource(path)
    twin = page.body.replace("样例区卫生健康局".encode(), "示范区医疗保障局".encode())
    stage.parse(stage.store_bytes(BASE + "/jsportal/c/2022-01-25/8000001.shtml", twin, page.content_type,
                                  "2022-01-25 10:00", "sfq-ybj"), "sfq-ybj")
    return BASE + path, BASE + "/zwgk/nb/2021.html"


def _after_run(stage: Stage, run) -> Stage:
    """A crawl run on the stage's archive, then the re-judge a crawl makes (``cli.crawl``); the next run's stage."""
    stage.archive.close()
    current = Stage(stage.config, Archive.open(stage.config, durability="os"))
    try:
        run(current)
        touched = touched_by_run(current.catalog, current.archive.run_id, as_of=AS_OF)
        reports = new_reports_of_run(current.catalog, current.archive.run_id)
        rejudge(current.catalog, touched, as_of=AS_OF, years=[2021], report_years=report_years(reports),
                new_reports=[report.id for report in reports])
    except BaseException:
        current.archive.close()
        raise
    return current


def _moved_to(new_url: str):
    def run(stage: Stage) -> None:
        page = DemoPortals(1).resource(report_path("ylx-wjj", 2021))
        stage.parse(stage.store_bytes(new_url, page.body, page.content_type, "2024-03-01 09:01", "ylx-wjj"),
                    "ylx-wjj")
    return run


def _gone(old_url: str, when: str):
    def run(stage: Stage) -> None:
        stage.archive.record_fetch(old_url, "GET", [], 404, "Not Found", [("Content-Type", "text/html")], b"gone",
                                   fetched_at=at(when), agency_id="ylx-wjj")
    return run


def test_a_source_that_moved_in_a_run_is_named_at_its_new_address_by_the_agency_that_copied_it(tmp_path):
    """The source's column moved in one run (its old address answers 404, the report is archived at its new one):
    the copying agency, untouched by the run, is judged again and its 疑似雷同 names the new address."""
    stage = open_stage(tmp_path / "data")
    old_url, new_url = _copied_source(stage)
    judge(stage.catalog, as_of=AS_OF, years=[2021])
    assert stored(stage)[("sfq-ybj", 2021)][3]["copied"]["other_url"] == old_url

    def run(current: Stage) -> None:
        _gone(old_url, "2024-03-01 09:00")(current)
        _moved_to(new_url)(current)
    stage = _after_run(stage, run)
    stage.archive.close()

    assert stored(stage)[("sfq-ybj", 2021)][3]["copied"]["other_url"] == new_url


def test_a_source_whose_old_address_fails_a_run_after_its_new_one_was_archived_is_named_at_the_new_one(tmp_path):
    """The report was archived at a second address in one run (both online: the first is named), and its first
    address answered 404 in a later run that stored no report: the copying agency is judged again all the same,
    and its 疑似雷同 names the address still online."""
    stage = open_stage(tmp_path / "data")
    old_url, new_url = _copied_source(stage)
    judge(stage.catalog, as_of=AS_OF, years=[2021])
    stage = _after_run(stage, _moved_to(new_url))
    assert stored(stage)[("sfq-ybj", 2021)][3]["copied"]["other_url"] == old_url   # both online: the first

    stage = _after_run(stage, _gone(old_url, "2024-04-01 09:00"))
    stage.archive.close()

    assert stored(stage)[("sfq-ybj", 2021)][3]["copied"]["other_url"] == new_url


def test_a_runs_rows_are_read_through_its_index_whatever_sqlites_statistics_say(tmp_path):
    """SQLite's statistics gathered while the archive held one run say every run holds all of it; the planner then
    read the whole captures table for a run's few rows (14 s in a 12 GB catalog). Every read of a run's rows — the
    re-judge after it, the run's page and the list of runs in the web UI, its export, its coverage — keeps the
    run index, and finds what it found without statistics."""
    stage = open_stage(tmp_path / "data")
    stage.parse(stage.fetch(1, report_path("sfq-wjj", 2023), "2024-01-29 11:00", "sfq-wjj", role="item"), "sfq-wjj")
    stage.read_column("ylx-wjj", "2024-03-01 09:00")
    judge(stage.catalog, as_of=AS_OF, years=[2022, 2023])
    stage.archive.close()
    second = Stage(stage.config, Archive.open(stage.config, durability="os"))
    try:
        second.parse(second.fetch(2, report_path("sfq-wjj", 2023), "2025-06-30 09:00", "sfq-wjj", role="item"),
                     "sfq-wjj")
        second.read_column("ylx-wjj", "2025-06-30 09:00")
        second.archive.record_fetch(BASE + report_path("sfq-gov", 2023), "GET", [], 404, "Not Found",
                                    [("Content-Type", "text/html")], b"gone", fetched_at=at("2025-06-30 09:00"),
                                    agency_id="sfq-gov")
        run_id = second.archive.run_id
    finally:
        second.archive.close()
    catalog = second.catalog
    context = WebContext(catalog, reader=None)

    def reads() -> dict:
        with catalog.reading() as session:
            found = {"captures": [row.id for row in queries.captures_by_run(session, run_id)],
                     "count": queries.count_captures(session, run_id=run_id),
                     "errors": [row.id for row in queries.errors_by_run(session, run_id)],
                     "coverage": [row.id for row in queries.coverage_of_run(session, run_id)],
                     "latest": [(row.agency_id, row.items_read) for row in coverage.latest(session, run_id=run_id)]}
        found["touched"] = touched_by_run(catalog, run_id, as_of=AS_OF)
        found["export"] = [row.id for row in select_captures(catalog, run_id=run_id)]
        found["segments"] = note_segments(catalog, run_id=run_id)
        found["run page"] = run_data(context, run_id)
        found["runs"] = runs_data(context)
        return found

    expected = reads()
    assert expected["touched"] == {"sfq-wjj", "ylx-wjj"} and expected["count"] == len(expected["captures"]) >= 3
    with catalog.engine.begin() as connection:   # what ANALYZE says of a catalog of one big run
        connection.exec_driver_sql("ANALYZE")
        for table, index in (("captures", "ix_captures_run_id"), ("column_coverage", "ix_column_coverage_run_id"),
                             ("fetch_errors", "ix_fetch_errors_run_id")):
            connection.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE idx = ?", (index,))
            connection.exec_driver_sql("INSERT INTO sqlite_stat1 VALUES (?, ?, '6000000 6000000')", (table, index))
    statements: list[tuple[str, tuple]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "run_id" in statement and "WHERE" in statement:
            statements.append((statement, parameters))

    catalog.engine.dispose()   # new connections: they read the statistics written above
    event.listen(catalog.engine, "before_cursor_execute", seen)
    try:
        assert reads() == expected
    finally:
        event.remove(catalog.engine, "before_cursor_execute", seen)
    assert len(statements) >= 10
    with closing(sqlite3.connect(stage.config.data_dir / "catalog.sqlite3")) as raw:
        for statement, parameters in statements:
            plan = " / ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert not any(f"SCAN {table}" in plan for table in ("captures", "column_coverage", "fetch_errors")), (
                statement, plan)
