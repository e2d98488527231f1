"""The catalog: what was archived, fetched, parsed and judged, in SQLite or PostgreSQL.

``Catalog.open(config)`` migrates to the newest schema and hands out sessions; the models are in ``models`` and the
functions the crawler and the web use in ``queries``.
"""
from storage.catalog.database import Catalog, CatalogError, CatalogMissing, open_catalog
from storage.catalog.models import (Agency, Base, Capture, CrawlRun, FetchError, Report, Segment, Verdict,
                                    FETCH_ERROR_KINDS)

__all__ = ["Catalog", "CatalogError", "CatalogMissing", "open_catalog", "Agency", "Base", "Capture", "CrawlRun",
           "FetchError", "Report", "Segment", "Verdict", "FETCH_ERROR_KINDS"]
