"""Copy registry agencies into the catalog: the registry file is the source of truth, the catalog a mirror."""
from __future__ import annotations

from collections.abc import Iterable

from registry.agencies import Agency
from storage.catalog import Catalog, queries


def store_agencies(catalog: Catalog, agencies: Iterable[Agency]) -> int:
    """Insert or update every agency; returns how many were written."""
    rows = [dict(agency_id=agency.id, name=agency.name, level=agency.level, region=agency.region,
                 parent=agency.parent, homepage=agency.homepage, report_index=agency.report_index,
                 render=agency.render, robots=agency.robots, aliases=agency.aliases) for agency in agencies]
    with catalog.session() as session:
        return queries.upsert_agencies(session, rows)


def agency_from_row(row) -> Agency:
    """The registry view of a catalog row (the crawler works from registry agencies)."""
    return Agency(id=row.id, name=row.name, level=row.level, homepage=row.homepage or "", region=row.region,
                  parent=row.parent, report_index=tuple(row.report_index or ()), render=row.render or "auto",
                  robots=row.robots or "obey", aliases=tuple(row.aliases or ()))
