"""dashboard: verdict tallies and indexes; full-text search over report titles and texts

Dashboard. Counting a million verdicts per request costs 100-300 ms on SQLite however it is indexed, so the counts
per report year × status × agency level × region live in ``verdict_tallies``, kept exact by triggers on
``verdicts`` (insert, delete, update of year/status/agency) and ``agencies`` (a change of level or region moves the
agency's verdicts between tallies; deleting an agency first deletes its verdicts, so their tallies are taken while
the agency still says which level and region they were counted under). A missing level or region is tallied as ''.
Indexes serve one page of agencies in id order, filtered by level or region, and its cells read from the index
alone; ``verdicts(status, agency_id)`` pages through the agencies that have a verdict with a rare status.

Search. Chinese has no spaces, so word tokenizers are useless; both backends index character n-grams and every hit
is a real substring match (the semantics of ``queries.search_reports``):

- SQLite: an FTS5 table with the ``trigram`` tokenizer (SQLite ≥ 3.34) over ``reports(title, text)`` as external
  content (the text is not stored twice), kept in sync by triggers. Terms of three or more characters are answered
  from the index; FTS5 cannot index shorter terms, those fall back to a LIKE scan.
- PostgreSQL: a GIN index on ``to_tsvector('simple', xxgk_bigrams(…))``, the text cut into overlapping character
  bigrams by an IMMUTABLE SQL function. The index narrows the candidates to rows holding every bigram of a term,
  ILIKE then confirms the exact substring. One-character terms fall back to ILIKE alone. No extension (pg_trgm)
  is needed, so it works for a database owner without superuser rights.

The FTS5 table (with the shadow tables FTS5 makes) and the expression index have no model:
``models.include_in_comparison`` names them for schema comparisons.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# queries.full_text_search repeats this expression verbatim: PostgreSQL uses an expression index only for a query
# that spells the same expression
PG_SEARCH_DOCUMENT = "to_tsvector('simple', xxgk_bigrams(lower(coalesce(title, '') || ' ' || text)))"

# ---------------------------------------------------------------- SQLite

_SQLITE_LEVEL = "coalesce((SELECT level FROM agencies WHERE id = {row}.agency_id), '')"
_SQLITE_REGION = "coalesce((SELECT region FROM agencies WHERE id = {row}.agency_id), '')"


def _sqlite_tally(row: str, sign: str) -> str:
    """Statements adding (sign '+') or removing ('-') one verdict (``new`` or ``old``) to/from its tally."""
    level, region = _SQLITE_LEVEL.format(row=row), _SQLITE_REGION.format(row=row)
    where = (f"report_year = {row}.report_year AND status = {row}.status AND level = {level} "
             f"AND region = {region}")
    statements = []
    if sign == "+":
        statements.append(f"INSERT OR IGNORE INTO verdict_tallies (report_year, status, level, region, count) "
                          f"VALUES ({row}.report_year, {row}.status, {level}, {region}, 0);")
    statements.append(f"UPDATE verdict_tallies SET count = count {sign} 1 WHERE {where};")
    if sign == "-":
        statements.append(f"DELETE FROM verdict_tallies WHERE count <= 0 AND {where};")
    return "\n".join(statements)


def _sqlite_move_agency(bucket: str, sign: str) -> str:
    """Add or remove all of one agency's verdicts to/from the tallies of its ``old`` or ``new`` level/region."""
    level, region = f"coalesce({bucket}.level, '')", f"coalesce({bucket}.region, '')"
    statements = []
    if sign == "+":
        statements.append(f"INSERT OR IGNORE INTO verdict_tallies (report_year, status, level, region, count) "
                          f"SELECT DISTINCT report_year, status, {level}, {region}, 0 FROM verdicts "
                          f"WHERE agency_id = new.id;")
    statements.append(
        f"UPDATE verdict_tallies SET count = count {sign} (SELECT count(*) FROM verdicts v WHERE v.agency_id = new.id "
        f"AND v.report_year = verdict_tallies.report_year AND v.status = verdict_tallies.status) "
        f"WHERE level = {level} AND region = {region};")
    if sign == "-":
        statements.append(f"DELETE FROM verdict_tallies WHERE count <= 0 AND level = {level} AND region = {region};")
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
    f"""CREATE TRIGGER verdict_tallies_agency_moved AFTER UPDATE OF level, region ON agencies
        WHEN old.level IS NOT new.level OR old.region IS NOT new.region BEGIN
        {_sqlite_move_agency('old', '-')}
        {_sqlite_move_agency('new', '+')}
        END""",
    """CREATE TRIGGER verdict_tallies_agency_deleted BEFORE DELETE ON agencies BEGIN
        DELETE FROM verdicts WHERE agency_id = old.id;
        END""",
]

SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE reports_fts USING fts5(title, text, content='reports', content_rowid='id', "
    "tokenize='trigram')",
    """CREATE TRIGGER reports_fts_after_insert AFTER INSERT ON reports BEGIN
         INSERT INTO reports_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
       END""",
    """CREATE TRIGGER reports_fts_after_delete AFTER DELETE ON reports BEGIN
         INSERT INTO reports_fts(reports_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
       END""",
    """CREATE TRIGGER reports_fts_after_update AFTER UPDATE OF title, text ON reports BEGIN
         INSERT INTO reports_fts(reports_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
         INSERT INTO reports_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
       END""",
    "INSERT INTO reports_fts(reports_fts) VALUES ('rebuild')",
]
SQLITE_TRIGGERS = ("verdict_tallies_after_insert", "verdict_tallies_after_delete", "verdict_tallies_after_update",
                   "verdict_tallies_agency_moved", "verdict_tallies_agency_deleted", "reports_fts_after_insert",
                   "reports_fts_after_delete", "reports_fts_after_update")

# ---------------------------------------------------------------- PostgreSQL

POSTGRES_TALLIES = [
    """CREATE FUNCTION xxgk_tally_add(year integer, verdict_status varchar, agency_level text, agency_region text,
                                      delta bigint) RETURNS void LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO verdict_tallies AS t (report_year, status, level, region, count)
           VALUES (year, verdict_status, coalesce(agency_level, ''), coalesce(agency_region, ''), delta)
           ON CONFLICT (report_year, status, level, region) DO UPDATE SET count = t.count + excluded.count;
         DELETE FROM verdict_tallies WHERE report_year = year AND status = verdict_status
           AND level = coalesce(agency_level, '') AND region = coalesce(agency_region, '') AND count <= 0;
       END $$""",
    """CREATE FUNCTION xxgk_verdicts_tally() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE agency_level text; agency_region text;
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') THEN
           SELECT level, region INTO agency_level, agency_region FROM agencies WHERE id = OLD.agency_id;
           PERFORM xxgk_tally_add(OLD.report_year, OLD.status, agency_level, agency_region, -1);
         END IF;
         IF TG_OP IN ('UPDATE', 'INSERT') THEN
           SELECT level, region INTO agency_level, agency_region FROM agencies WHERE id = NEW.agency_id;
           PERFORM xxgk_tally_add(NEW.report_year, NEW.status, agency_level, agency_region, 1);
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
         IF OLD.level IS DISTINCT FROM NEW.level OR OLD.region IS DISTINCT FROM NEW.region THEN
           FOR cell IN SELECT report_year, status, count(*) AS n FROM verdicts WHERE agency_id = NEW.id
                       GROUP BY report_year, status LOOP
             PERFORM xxgk_tally_add(cell.report_year, cell.status, OLD.level, OLD.region, -cell.n);
             PERFORM xxgk_tally_add(cell.report_year, cell.status, NEW.level, NEW.region, cell.n);
           END LOOP;
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER verdict_tallies_agency_moved AFTER UPDATE OF level, region ON agencies
       FOR EACH ROW EXECUTE FUNCTION xxgk_agencies_tally()""",
    """CREATE TRIGGER verdict_tallies_agency_deleted BEFORE DELETE ON agencies
       FOR EACH ROW EXECUTE FUNCTION xxgk_agencies_tally()""",
]

POSTGRES_SEARCH = [
    # overlapping character pairs separated by spaces: "信息公开" -> "信息 息公 公开"
    """CREATE FUNCTION xxgk_bigrams(body text) RETURNS text
       LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
         SELECT coalesce(string_agg(substr(body, i, 2), ' ' ORDER BY i), '')
         FROM generate_series(1, greatest(length(body) - 1, 0)) AS i
       $$""",
    f"CREATE INDEX ix_reports_search ON reports USING gin ({PG_SEARCH_DOCUMENT})",
]

BACKFILL_TALLIES = """
    INSERT INTO verdict_tallies (report_year, status, level, region, count)
    SELECT v.report_year, v.status, coalesce(a.level, ''), coalesce(a.region, ''), count(*)
    FROM verdicts v LEFT JOIN agencies a ON a.id = v.agency_id
    GROUP BY v.report_year, v.status, coalesce(a.level, ''), coalesce(a.region, '')
"""


def upgrade() -> None:
    op.create_table(
        "verdict_tallies",
        sa.Column("report_year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("report_year", "status", "level", "region", name=op.f("pk_verdict_tallies")),
    )
    op.create_index(op.f("ix_verdicts_agency_id_report_year_status"), "verdicts",
                    ["agency_id", "report_year", "status"])
    op.create_index(op.f("ix_verdicts_status_agency_id"), "verdicts", ["status", "agency_id"])
    op.create_index(op.f("ix_agencies_level_id"), "agencies", ["level", "id"])
    op.create_index(op.f("ix_agencies_region_id"), "agencies", ["region", "id"])
    op.execute(BACKFILL_TALLIES)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = SQLITE_TALLIES + SQLITE_SEARCH
    elif dialect == "postgresql":
        statements = POSTGRES_TALLIES + POSTGRES_SEARCH
    else:
        raise NotImplementedError(f"the catalog supports sqlite and postgresql, not {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS reports_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_reports_search")
        op.execute("DROP FUNCTION IF EXISTS xxgk_bigrams(text)")
        op.execute("DROP TRIGGER IF EXISTS verdict_tallies_sync ON verdicts")
        op.execute("DROP TRIGGER IF EXISTS verdict_tallies_agency_moved ON agencies")
        op.execute("DROP TRIGGER IF EXISTS verdict_tallies_agency_deleted ON agencies")
        op.execute("DROP FUNCTION IF EXISTS xxgk_verdicts_tally()")
        op.execute("DROP FUNCTION IF EXISTS xxgk_agencies_tally()")
        op.execute("DROP FUNCTION IF EXISTS xxgk_tally_add(integer, varchar, text, text, bigint)")
    op.drop_index(op.f("ix_agencies_region_id"), table_name="agencies")
    op.drop_index(op.f("ix_agencies_level_id"), table_name="agencies")
    op.drop_index(op.f("ix_verdicts_status_agency_id"), table_name="verdicts")
    op.drop_index(op.f("ix_verdicts_agency_id_report_year_status"), table_name="verdicts")
    op.drop_table("verdict_tallies")
