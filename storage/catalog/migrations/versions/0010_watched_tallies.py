"""watched tallies: the dashboard's verdict counts split by whether the agency is in the imported registry

Once ``xxgk agencies import`` has marked agencies ``watched`` (0009), the dashboard, ``xxgk status`` and the
exports count the watched agencies only (an agency the office dropped from its list leaves its current figures),
unless asked for every agency. The counts come from ``verdict_tallies`` (0002), which knew level and region but not
the mark; counting at request time would scan the verdicts again, what the tallies exist to avoid. So the mark
becomes one more key of the tallies, kept by the same triggers: a verdict is counted under its agency's mark, and
an agency whose level, region or mark changes moves its verdicts between tallies.

The agency trigger of 0002 re-counted every tally of the agency's level and region (a scan of the tallies for
each agency); an import flips the mark of up to a whole registry at once, so the trigger now touches only the
tallies of the agency's own years and statuses, each found by its primary key. ``watch_agencies`` flips only the
agencies whose mark changes.

The tallies are derived data: the table is made again with the new key and filled from the verdicts.
``agencies(watched, id)`` answers "is a registry imported", "how many agencies are left out" and the watched
agencies in id order (a dashboard page) without reading every agency.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""
from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# what 0002 made, for the downgrade (its module name starts with a digit: imported by name)
_BEFORE = importlib.import_module("storage.catalog.migrations.versions.0002_dashboard_indexes_and_search")

# ---------------------------------------------------------------- SQLite

_KEY = "(report_year, status, level, region, watched)"


def _sqlite_agency_of(row: str) -> tuple[str, str, str]:
    return tuple(f"coalesce((SELECT {column} FROM agencies WHERE id = {row}.agency_id), {empty})"
                 for column, empty in (("level", "''"), ("region", "''"), ("watched", "0")))


def _sqlite_tally(row: str, sign: str) -> str:
    """Statements adding (sign '+') or removing ('-') one verdict (``new`` or ``old``) to/from its tally."""
    level, region, watched = _sqlite_agency_of(row)
    where = (f"report_year = {row}.report_year AND status = {row}.status AND level = {level} "
             f"AND region = {region} AND watched = {watched}")
    statements = []
    if sign == "+":
        statements.append(f"INSERT OR IGNORE INTO verdict_tallies {_KEY[:-1]}, count) "
                          f"VALUES ({row}.report_year, {row}.status, {level}, {region}, {watched}, 0);")
    statements.append(f"UPDATE verdict_tallies SET count = count {sign} 1 WHERE {where};")
    if sign == "-":
        statements.append(f"DELETE FROM verdict_tallies WHERE count <= 0 AND {where};")
    return "\n".join(statements)


def _sqlite_move_agency(bucket: str, sign: str) -> str:
    """Add or remove all of one agency's verdicts to/from the tallies of its ``old`` or ``new`` level, region and
    mark: one upsert per year and status of the agency, then the emptied tallies of those alone."""
    level, region, watched = (f"coalesce({bucket}.level, '')", f"coalesce({bucket}.region, '')",
                              f"coalesce({bucket}.watched, 0)")
    statements = [
        f"INSERT INTO verdict_tallies {_KEY[:-1]}, count) "
        f"SELECT report_year, status, {level}, {region}, {watched}, {sign}count(*) FROM verdicts "
        f"WHERE agency_id = new.id GROUP BY report_year, status "
        f"ON CONFLICT {_KEY} DO UPDATE SET count = count + excluded.count;"]
    if sign == "-":
        statements.append(
            f"DELETE FROM verdict_tallies WHERE rowid IN (SELECT t.rowid FROM verdicts v JOIN verdict_tallies t "
            f"ON t.report_year = v.report_year AND t.status = v.status AND t.level = {level} "
            f"AND t.region = {region} AND t.watched = {watched} WHERE v.agency_id = new.id AND t.count <= 0);")
    return "\n".join(statements)


SQLITE_TALLIES = [
    f"""CREATE TRIGGER verdict_tallies_after_insert AFTER INSERT ON verdicts BEGIN
        {_sqlite_tally('new', '+')}
        END""",
    f"""CREATE TRIGGER verdict_tallies_after_delete AFTER DELETE ON verdicts BEGIN
        {_sqlite_tally('old', '-')}
        END""",
    f"""CREATE TRIGGER verdict_tallies_after_update AFTER UPDATE OF report_year, status, agency_id ON verdicts BEGIN
        {_sqlite_tally('old', '-')}
        {_sqlite_tally('new', '+')}
        END""",
    f"""CREATE TRIGGER verdict_tallies_agency_moved AFTER UPDATE OF level, region, watched ON agencies
        WHEN old.level IS NOT new.level OR old.region IS NOT new.region OR old.watched IS NOT new.watched BEGIN
        {_sqlite_move_agency('old', '-')}
        {_sqlite_move_agency('new', '+')}
        END""",
]
# 0002's agency-deleted trigger (delete its verdicts first) stays as it is
SQLITE_TRIGGERS = ("verdict_tallies_after_insert", "verdict_tallies_after_delete", "verdict_tallies_after_update",
                   "verdict_tallies_agency_moved")

# ---------------------------------------------------------------- PostgreSQL

POSTGRES_TALLIES = [
    """CREATE FUNCTION xxgk_tally_add(year integer, verdict_status varchar, agency_level text, agency_region text,
                                      agency_watched boolean, delta bigint) RETURNS void LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO verdict_tallies AS t (report_year, status, level, region, watched, count)
           VALUES (year, verdict_status, coalesce(agency_level, ''), coalesce(agency_region, ''),
                   coalesce(agency_watched, false), delta)
           ON CONFLICT (report_year, status, level, region, watched) DO UPDATE SET count = t.count + excluded.count;
         DELETE FROM verdict_tallies WHERE report_year = year AND status = verdict_status
           AND level = coalesce(agency_level, '') AND region = coalesce(agency_region, '')
           AND watched = coalesce(agency_watched, false) AND count <= 0;
       END $$""",
    """CREATE FUNCTION xxgk_verdicts_tally() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE agency_level text; agency_region text; agency_watched boolean;
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           SELECT level, region, watched INTO agency_level, agency_region, agency_watched
             FROM agencies WHERE id = OLD.agency_id;
           PERFORM xxgk_tally_add(OLD.report_year, OLD.status, agency_level, agency_region, agency_watched, -1);
         END IF;
         IF TG_OP IN ('UPDATE', 'INSERT') THEN
           SELECT level, region, watched INTO agency_level, agency_region, agency_watched
             FROM agencies WHERE id = NEW.agency_id;
           PERFORM xxgk_tally_add(NEW.report_year, NEW.status, agency_level, agency_region, agency_watched, 1);
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER verdict_tallies_sync AFTER INSERT OR DELETE OR UPDATE OF report_year, status, agency_id
       ON verdicts FOR EACH ROW EXECUTE FUNCTION xxgk_verdicts_tally()""",
    """CREATE FUNCTION xxgk_agencies_tally() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE cell record;
       BEGIN
         IF TG_OP = 'DELETE' THEN
           DELETE FROM verdicts WHERE agency_id = OLD.id;
           RETURN OLD;
         END IF;
         IF OLD.level IS DISTINCT FROM NEW.level OR OLD.region IS DISTINCT FROM NEW.region
            OR OLD.watched IS DISTINCT FROM NEW.watched THEN
           FOR cell IN SELECT report_year, status, count(*) AS n FROM verdicts WHERE agency_id = NEW.id
                       GROUP BY report_year, status LOOP
             PERFORM xxgk_tally_add(cell.report_year, cell.status, OLD.level, OLD.region, OLD.watched, -cell.n);
             PERFORM xxgk_tally_add(cell.report_year, cell.status, NEW.level, NEW.region, NEW.watched, cell.n);
           END LOOP;
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER verdict_tallies_agency_moved AFTER UPDATE OF level, region, watched ON agencies
       FOR EACH ROW EXECUTE FUNCTION xxgk_agencies_tally()""",
    """CREATE TRIGGER verdict_tallies_agency_deleted BEFORE DELETE ON agencies
       FOR EACH ROW EXECUTE FUNCTION xxgk_agencies_tally()""",
]

BACKFILL_TALLIES = """
    INSERT INTO verdict_tallies (report_year, status, level, region, watched, count)
    SELECT v.report_year, v.status, coalesce(a.level, ''), coalesce(a.region, ''), coalesce(a.watched, false),
           count(*)
    FROM verdicts v LEFT JOIN agencies a ON a.id = v.agency_id
    GROUP BY v.report_year, v.status, coalesce(a.level, ''), coalesce(a.region, ''), coalesce(a.watched, false)
"""


def _drop_tally_triggers(dialect: str) -> None:
    """The tally triggers and functions of either revision (same names), not the search index's."""
    if dialect == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        return
    op.execute("DROP TRIGGER IF EXISTS verdict_tallies_sync ON verdicts")
    op.execute("DROP TRIGGER IF EXISTS verdict_tallies_agency_moved ON agencies")
    op.execute("DROP TRIGGER IF EXISTS verdict_tallies_agency_deleted ON agencies")
    op.execute("DROP FUNCTION IF EXISTS xxgk_verdicts_tally()")
    op.execute("DROP FUNCTION IF EXISTS xxgk_agencies_tally()")
    op.execute("DROP FUNCTION IF EXISTS xxgk_tally_add(integer, varchar, text, text, bigint)")
    op.execute("DROP FUNCTION IF EXISTS xxgk_tally_add(integer, varchar, text, text, boolean, bigint)")


def _tally_table(*, watched: bool) -> None:
    columns = [sa.Column("report_year", sa.Integer(), nullable=False),
               sa.Column("status", sa.String(length=32), nullable=False),
               sa.Column("level", sa.String(length=20), nullable=False),
               sa.Column("region", sa.Text(), nullable=False)]
    key = ["report_year", "status", "level", "region"]
    if watched:
        columns.append(sa.Column("watched", sa.Boolean(), nullable=False))
        key.append("watched")
    op.create_table("verdict_tallies", *columns, sa.Column("count", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint(*key, name=op.f("pk_verdict_tallies")))


def _dialect() -> str:
    dialect = op.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"the catalog supports sqlite and postgresql, not {dialect}")
    return dialect


def upgrade() -> None:
    dialect = _dialect()
    _drop_tally_triggers(dialect)
    op.drop_table("verdict_tallies")
    _tally_table(watched=True)
    op.execute(BACKFILL_TALLIES)
    op.create_index(op.f("ix_agencies_watched_id"), "agencies", ["watched", "id"])
    for statement in SQLITE_TALLIES if dialect == "sqlite" else POSTGRES_TALLIES:
        op.execute(statement)


def downgrade() -> None:
    dialect = _dialect()
    _drop_tally_triggers(dialect)
    op.drop_index(op.f("ix_agencies_watched_id"), table_name="agencies")
    op.drop_table("verdict_tallies")
    _tally_table(watched=False)
    op.execute(_BEFORE.BACKFILL_TALLIES)
    if dialect == "sqlite":   # 0002's agency-deleted trigger was left in place
        statements = [s for s in _BEFORE.SQLITE_TALLIES if "verdict_tallies_agency_deleted" not in s]
    else:
        statements = _BEFORE.POSTGRES_TALLIES
    for statement in statements:
        op.execute(statement)
