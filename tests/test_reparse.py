"""``xxgk reparse``: a newer parser reaches what was archived before it (issue #9).

One demo agency is crawled and archived; its report rows are then replaced by what an older parser rule made of the
same archived captures (the report year read from the publication date: off by one; one report classed as a
notice-like "other" page), stamped with that older version, and judged. `xxgk reparse` parses the captures again
with the current parsers: the real records come back, the verdicts return to what the archive proves, every change
is printed, the older records are kept, and a second run changes nothing.
"""
from __future__ import annotations

import os
import shutil

import pytest

from fastapi.testclient import TestClient

from cli.main import main
from demo.portals import DemoPortals
from demo.server import DemoServer
from monitor.clock import today
from monitor.labels import STATUS_LABELS
from monitor.verdicts import judge
from parsers.version import PARSER_VERSION
from storage.catalog import Catalog, queries
from storage.catalog.models import Report, ReportHistory
from tests.crawling import SLOW_PAGE_SECONDS, config_in, crawl
from web.app import create_app

pytestmark = pytest.mark.slow

AGENCY = "ylx-wjj"
# from its first watched year to last year: the older rule also makes up a report for a year without one
YEARS = range(min(next(agency.watch_years for agency in DemoPortals().agencies if agency.id == AGENCY)),
              today().year)
OLDER = "2025.01.01"   # the parser version the older rule stands for


def verdicts(config, *, store: bool) -> dict[int, str]:
    """This agency's verdict status per report year of ``YEARS``, judged as of today (stored, as a crawl does,
    when ``store``)."""
    with Catalog.open(config, create=False) as catalog:
        judged = judge(catalog, as_of=today(), years=YEARS, agency_ids=[AGENCY], store=store)
    return {item.report_year: item.verdict.status for item in judged}


def rows(config) -> dict[int, tuple]:
    """capture id → (is_report, report_year, kind, parser_version) of every parsed document of the agency."""
    with Catalog.open(config, create=False) as catalog, catalog.reading() as session:
        return {r.capture_id: (r.is_report, r.report_year, r.kind, r.parser_version)
                for r in session.query(Report).filter(Report.agency_id == AGENCY)}


def xxgk(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def archived(tmp_path, monkeypatch):
    """The agency crawled and archived by the current parsers, then its reports re-stored as an older rule made
    them; returns (config, the real rows, the real verdicts, the reports tampered with)."""
    for name in [name for name in os.environ if name.startswith("XXGK_")]:
        monkeypatch.delenv(name)
    config = config_in(tmp_path / "data")
    monkeypatch.setenv("XXGK_DATA_DIR", str(config.data_dir))
    with DemoServer(slow_seconds=SLOW_PAGE_SECONDS) as server:
        agencies = [agency for agency in server.portals.registry(server.base_url) if agency.id == AGENCY]
        summary = crawl(config, agencies)
    assert summary.reports_found >= 2, summary
    real_rows, real_verdicts = rows(config), verdicts(config, store=False)
    with Catalog.open(config, create=False) as catalog, catalog.session() as session:
        reports = sorted(queries.reports_of_agency(session, AGENCY, only_reports=True), key=lambda r: r.report_year)
        moved, hidden = reports[-1], reports[-2]
        assert moved.publication_date.year == moved.report_year + 1
        tampered = {"moved": (moved.capture_id, moved.url, moved.report_year),
                    "hidden": (hidden.capture_id, hidden.url, hidden.report_year)}
        # the older rule: the report year is the year it was published; a short report is not taken for one
        queries.add_report(session, moved.capture_id,
                           dict(queries.report_record(moved), report_year=moved.report_year + 1),
                           agency_id=AGENCY, parser_version=OLDER)
        queries.add_report(session, hidden.capture_id, dict(queries.report_record(hidden), is_report=False,
                                                            kind="other"), agency_id=AGENCY, parser_version=OLDER)
    with Catalog.open(config, create=False) as catalog, catalog.session() as session:
        # what the rows said before there were versions: unknown, older
        session.query(Report).filter(Report.parser_version == PARSER_VERSION) \
            .update({Report.parser_version: None}, synchronize_session=False)
    return config, real_rows, real_verdicts, tampered


def test_reparse_brings_the_archive_up_to_the_current_parser(archived, capsys):
    config, real_rows, real_verdicts, tampered = archived
    older_verdicts = verdicts(config, store=True)   # what a crawl with the older parser stored
    moved_id, moved_url, moved_year = tampered["moved"]
    hidden_id, hidden_url, hidden_year = tampered["hidden"]
    assert older_verdicts[hidden_year] != real_verdicts[hidden_year]
    assert older_verdicts[moved_year] != real_verdicts[moved_year]
    flipped = {year for year in set(older_verdicts) | set(real_verdicts)
               if older_verdicts.get(year) != real_verdicts.get(year)}

    code, out, err = xxgk(capsys, "reparse")
    assert code == 0, err
    lines = out.splitlines()
    assert f"文档 {moved_url}（样例区卫生健康局）：报告年度 {moved_year + 1} → {moved_year}" in lines, out
    assert f"文档 {hidden_url}（样例区卫生健康局）：新识别为年度报告" in lines, out
    for year in flipped:
        before, after = older_verdicts.get(year), real_verdicts.get(year)
        assert (f"判定 样例区卫生健康局 {year} 年度：{STATUS_LABELS.get(before, '无判定')} → "
                f"{STATUS_LABELS.get(after, '无判定')}") in lines, out
    assert lines[-1].startswith(f"已用解析器 {PARSER_VERSION} 重新解析 {len(real_rows)} 份文档，记录变化 2 份"), out
    assert lines[-1].endswith(f"判定变化 {len(flipped)} 项"), out

    # the current parser's records are stored, with its version; the stored verdicts are what the archive proves
    assert {capture_id: row[:3] for capture_id, row in rows(config).items()} == \
        {capture_id: row[:3] for capture_id, row in real_rows.items()}
    assert {row[3] for row in rows(config).values()} == {PARSER_VERSION}
    with Catalog.open(config, create=False) as catalog, catalog.reading() as session:
        stored = {v.report_year: v.status for v in queries.verdicts(session, agency_id=AGENCY)}
        # the older records are kept, with the version and time that made them (before them: the crawl's own
        # records, which the older rule replaced when the fixture stored it)
        history = {}
        for capture_id in (moved_id, hidden_id):
            report = queries.report_by_capture(session, capture_id)
            kept = queries.report_history(session, report.id)
            assert [row.parser_version for row in kept] == [PARSER_VERSION, OLDER]
            assert kept[-1].parsed_at < report.parsed_at
            history[capture_id] = kept[-1].record_json
        kept_rows = session.query(ReportHistory).count()
    assert kept_rows == 4
    assert {year: stored[year] for year in real_verdicts} == real_verdicts
    assert history[moved_id]["report_year"] == moved_year + 1
    assert history[hidden_id]["is_report"] is False and history[hidden_id]["kind"] == "other"

    # the report page shows the parser version and what the older parser said
    with Catalog.open(config, create=False) as catalog, catalog.reading() as session:
        moved_report = queries.report_by_capture(session, moved_id).id
    with TestClient(create_app(config)) as client:
        page = client.get(f"/api/reports/{moved_report}").json()
        html = client.get(f"/reports/{moved_report}").text
    assert page["parser_version"] == PARSER_VERSION
    assert [(h["parser_version"], h["report_year"]) for h in page["history"]] == \
        [(OLDER, moved_year + 1), (PARSER_VERSION, moved_year)]
    assert 'id="report-history"' in html and OLDER in html and "正文来源" in html
    # parse times on Beijing's clock, as every time on a page (the catalog keeps UTC)
    from datetime import datetime

    from parsers.beijing import BEIJING, as_aware
    for older in page["history"]:
        moment = as_aware(datetime.fromisoformat(older["parsed_at"])).astimezone(BEIJING)
        assert moment.strftime("%Y-%m-%d %H:%M:%S") in html
    assert "解析时间（北京时间）" in html

    # nothing left to change
    code, out, err = xxgk(capsys, "reparse")
    assert code == 0, err
    assert out.splitlines() == [f"已用解析器 {PARSER_VERSION} 重新解析 {len(real_rows)} 份文档，记录变化 0 份"
                                f"（其中 0 份的年报判断、年度、发布日期、格式或机关有变），判定变化 0 项"], out
    with Catalog.open(config, create=False) as catalog, catalog.reading() as session:
        assert session.query(ReportHistory).count() == kept_rows


def test_filters_and_an_unreadable_archive(archived, capsys):
    config, real_rows, _real_verdicts, tampered = archived
    moved_id, moved_url, moved_year = tampered["moved"]
    hidden_id, _hidden_url, hidden_year = tampered["hidden"]

    # --year picks the documents stored for that year: the moved report is stored one year late
    code, out, err = xxgk(capsys, "reparse", "--year", str(moved_year + 1))
    assert code == 0, err
    assert f"文档 {moved_url}（样例区卫生健康局）：报告年度 {moved_year + 1} → {moved_year}" in out.splitlines()
    assert rows(config)[hidden_id][0] is False   # not in the selection: still as the older rule left it

    code, out, err = xxgk(capsys, "reparse", "--agency", "nobody")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and "nobody" in err, err
    code, out, err = xxgk(capsys, "reparse", "--since", "2999-01-01")
    assert code == 1 and out == "" and "no parsed document" in err, err

    shutil.rmtree(config.data_dir / "objects")   # the archive is gone: nothing is replaced, one line says why
    code, out, err = xxgk(capsys, "reparse", "--agency", AGENCY)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith("xxgk reparse: cannot read the archive"), err
    assert rows(config)[hidden_id][0] is False


def test_without_a_catalog_it_says_so(tmp_path, monkeypatch, capsys):
    for name in [name for name in os.environ if name.startswith("XXGK_")]:
        monkeypatch.delenv(name)
    code, out, err = xxgk(capsys, "reparse", "--data-dir", str(tmp_path / "nothing"))
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and "xxgk crawl" in err, err
