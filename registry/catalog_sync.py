"""Copy registry agencies into the catalog: the registry file is the source of truth, the catalog a mirror."""
from __future__ import annotations

from collections.abc import Iterable

from registry.agencies import Agency
from storage.catalog import Catalog, queries


def store_agencies(catalog: Catalog, agencies: Iterable[Agency], *, watched: bool = False) -> int:
    """Insert or update every agency; returns how many were written. ``watched``: these agencies are now the
    imported registry (``xxgk agencies import``), the ones a crawl without ``--registry`` watches, in place of the
    previous import's; a crawl stores its agencies without touching that mark."""
    agencies = list(agencies)
    rows = [dict(agency_id=agency.id, name=agency.name, level=agency.level, region=agency.region,
                 parent=agency.parent, homepage=agency.homepage, report_index=agency.report_index,
                 render=agency.render, robots=agency.robots, aliases=agency.aliases) for agency in agencies]
    with catalog.session() as session:
        count = queries.upsert_agencies(session, rows)
        if watched:
            queries.watch_agencies(session, [agency.id for agency in agencies])
        return count


def watched_agencies(catalog: Catalog) -> list[Agency]:
    """The registry ``xxgk agencies import`` last stored, as the crawler needs it (every registry field is a catalog
    column: report_index, render, robots and aliases included); empty when nothing was imported."""
    with catalog.reading() as session:
        return [agency_from_row(row) for row in queries.list_agencies(session, watched=True)]


def agency_from_row(row) -> Agency:
    """The registry view of a catalog row (the crawler works from registry agencies)."""
    return Agency(id=row.id, name=row.name, level=row.level, homepage=row.homepage or "", region=row.region,
                  parent=row.parent, report_index=tuple(row.report_index or ()), render=row.render or "auto",
                  robots=row.robots or "obey", aliases=tuple(row.aliases or ()))
