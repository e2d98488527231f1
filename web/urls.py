"""Every URL the web app links to, built in one place (in the spirit of Datasette's ``Urls``).

Templates reach it as the Jinja global ``urls``, the Python modules of ``web`` import it, and the route
declarations in ``web.app`` are the only other place where the paths are spelled (tests check that every URL built
here is served there). Paths are root-relative; ``Urls(base)`` puts a base URL in front of them, e.g.
``Urls.for_request(request)`` for exports that are read outside the site. The catalog stores ids, never these
paths: they are built when a page or an export is written.

Methods of pages that have a JSON twin take ``api=True``; methods of pages with a query string take the query as a
mapping plus keyword overrides (``urls.dashboard(filters, page=2)``), leaving out empty values.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

EXPORT_KINDS = ("csv", "xlsx", "json")


def query_string(params: Mapping[str, Any] | None = None, **overrides: Any) -> str:
    """``?a=1&b=2`` from the parameters with overrides; None and '' are left out, so are filters not set."""
    merged = {**(params or {}), **overrides}
    pairs = [(key, value) for key, value in merged.items() if value is not None and value != ""]
    return "?" + urlencode(pairs, quote_via=quote) if pairs else ""


def _segment(value: Any) -> str:
    """One path segment from a catalog name: '/' and everything else reserved is escaped."""
    return quote(str(value), safe="")


def _id(value: Any) -> int:
    """A numeric id; anything else is a programming error, not something to put in a link."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an id must be an integer, not {value!r}")
    return value


class Urls:
    def __init__(self, base: str = ""):
        self.base = base.rstrip("/")

    @classmethod
    def for_request(cls, request) -> "Urls":
        """Absolute URLs on the host (and under the root path) the request came to."""
        return cls(str(request.base_url))

    def path(self, path: str, params: Mapping[str, Any] | None = None, **overrides: Any) -> str:
        return self.base + path + query_string(params, **overrides)

    def _page(self, path: str, api: bool, params: Mapping[str, Any] | None = None, **overrides: Any) -> str:
        return self.path("/api" + path if api else path, params, **overrides)

    # -------------------------------------------------------------- pages and their JSON twins

    def dashboard(self, params: Mapping[str, Any] | None = None, /, *, api: bool = False, **overrides: Any) -> str:
        """总览, with its filters (year, level, region, status, …) and page."""
        return self.path("/api/dashboard" if api else "/", params, **overrides)

    def agency(self, agency_id: str, *, api: bool = False) -> str:
        return self._page(f"/agencies/{_segment(agency_id)}", api)

    def report(self, report_id: int, *, api: bool = False) -> str:
        return self._page(f"/reports/{_id(report_id)}", api)

    def captures(self, params: Mapping[str, Any] | None = None, /, *, api: bool = False, **overrides: Any) -> str:
        """Every capture of ``url=…``, or the newest captures of the archive."""
        return self._page("/captures", api, params, **overrides)

    def capture(self, capture_id: int, *, api: bool = False) -> str:
        return self._page(f"/captures/{_id(capture_id)}", api)

    def diff(self, a: int, b: int, *, api: bool = False) -> str:
        return self._page("/diff", api, {"a": _id(a), "b": _id(b)})

    def search(self, params: Mapping[str, Any] | None = None, /, *, api: bool = False, **overrides: Any) -> str:
        return self._page("/search", api, params, **overrides)

    def runs(self, params: Mapping[str, Any] | None = None, /, *, api: bool = False, **overrides: Any) -> str:
        return self._page("/runs", api, params, **overrides)

    def run(self, run_id: str, *, api: bool = False) -> str:
        return self._page(f"/runs/{_segment(run_id)}", api)

    # -------------------------------------------------------------- archived bytes

    def raw(self, capture_id: int, *, download: bool = False) -> str:
        """A capture's bytes, sandboxed (``download``: exactly as archived, as an attachment)."""
        return self.path(f"/raw/{_id(capture_id)}", download=1 if download else None)

    def full_page(self, capture_id: int) -> str:
        """整页截图: the whole archived page of an HTML capture, rendered in Chromium on request (a JPEG)."""
        return self.path(f"/captures/{_id(capture_id)}/full-page.jpg")

    def latest(self, url: str, *, raw: bool = False) -> str:
        """The newest capture of ``url`` (any spelling of it): its page, or with ``raw`` its bytes — what links in
        archived HTML lead to, so a click stays in the archive."""
        return self.path("/captures/latest", {"url": url, "view": "raw" if raw else None})

    # -------------------------------------------------------------- exports, documentation, static files

    def export(self, kind: str, params: Mapping[str, Any] | None = None, /, **overrides: Any) -> str:
        if kind not in EXPORT_KINDS:
            raise ValueError(f"no export of kind {kind!r}")
        return self.path(f"/export.{kind}", params, **overrides)

    def docs(self) -> str:
        return self.path("/docs")

    def docs_asset(self, name: str) -> str:
        return self.path("/docs-assets/" + quote(name))

    def static(self, name: str) -> str:
        return self.path("/static/" + quote(name))
