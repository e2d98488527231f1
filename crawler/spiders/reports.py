"""The ``reports`` spider: from each agency's report column (or its homepage) to every report page and attachment.

It only moves: which links to follow is decided by ``parsers.discovery``, whether a document is a report by the
parsers (in ``crawler.pipelines``), and archiving and error rows happen in ``crawler.middlewares``. Every listing
item is fetched, look-alikes included, and handed on with the listing's title and date.

Roles (request meta ``xxgk_role``): ``home`` (a homepage or 信息公开 section: look for the report column, else
descend into disclosure sections up to DISCOVERY_MAX_DEPTH), ``column`` (a listing page: items, further pages,
JSON endpoints, a browser render when the listing is filled by scripts), ``json`` (a JSON listing), ``item`` (a
listed document: a report candidate; its attachments are fetched too) and ``attachment`` (a candidate only).

``scrapy crawl reports -a registry=FILE -a agency=ID[,ID…]`` (default: the shipped registry, every agency);
``crawler.run`` passes ``agencies=[Agency, …]`` instead.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Iterable, Iterator
from urllib.parse import unquote, urlsplit

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError

from parsers.discovery import (decode_page, find_attachments, find_disclosure_sections, find_json_endpoints,
                               find_listing_items, find_pagination, find_report_columns, listing_items_from_json,
                               needs_javascript)
from crawler.items import ReportCandidate
from crawler.middlewares import (META_AGENCY, META_CAPTURE, META_LISTING_DATE, META_LISTING_TITLE,
                                 META_PAYLOAD_CAPTURE, META_ROLE, META_STATIC_CAPTURE)
from registry.agencies import Agency, RegistryError, load_default_registry, load_registry, select
from crawler.settings import settings_for

META_DEPTH = "xxgk_depth"
META_RENDERED = "xxgk_rendered"
_HTML_TYPES = ("text/html", "application/xhtml")
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?["']?([^"';]+)""", re.IGNORECASE)


class SpiderArgumentError(ValueError):
    """The spider's -a arguments name no agency to crawl."""


class ReportsSpider(scrapy.Spider):
    name = "reports"

    def __init__(self, registry: str | None = None, agency: str | None = None,
                 agencies: Iterable[Agency] | None = None, **kwargs):
        super().__init__(**kwargs)
        if agencies is None:
            agencies = load_registry(registry) if registry else load_default_registry()
        try:
            self.agencies: list[Agency] = select(agencies, agency)
        except RegistryError as exc:
            raise SpiderArgumentError(f"-a agency: {exc}") from exc
        if not self.agencies:
            raise SpiderArgumentError("no agency to crawl: the registry is empty")
        self.agency_by_id = {agency.id: agency for agency in self.agencies}

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        config = settings.get("XXGK_CONFIG")
        if config is None:
            from storage.config import Config
            config = Config.from_env()
        settings.setdict(settings_for(config), priority="spider")
        if not settings.getbool("DISCOVERY_JS_RENDER", True):
            # no browser wanted: Scrapy's own HTTP handlers, and no Playwright driver process started for nothing
            settings.set("DOWNLOAD_HANDLERS", {}, priority="spider")

    # -- requests

    async def start(self):
        for agency in self.agencies:
            role = "column" if agency.report_index else "home"
            for url in agency.report_index or (agency.homepage,):
                yield self._request(url, agency, role)

    def _request(self, url: str, agency: Agency, role: str, *, depth: int = 0, listing_title: str | None = None,
                 listing_date: str | None = None, **meta) -> scrapy.Request:
        meta.update({META_AGENCY: agency.id, META_ROLE: role, META_DEPTH: depth})
        if listing_title is not None:
            meta[META_LISTING_TITLE] = listing_title
        if listing_date is not None:
            meta[META_LISTING_DATE] = listing_date
        if agency.robots == "ignore":
            meta["dont_obey_robotstxt"] = True
        dont_filter = bool(meta.get("playwright"))  # a render re-fetches a URL already seen as served
        return scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta, dont_filter=dont_filter)

    def _stat(self, key: str, count: int = 1) -> None:
        if count:
            self.crawler.stats.inc_value(key, count)

    # -- responses

    def parse(self, response) -> Iterator[scrapy.Request | ReportCandidate]:
        role = response.meta.get(META_ROLE, "home")
        agency = self.agency_by_id.get(response.meta.get(META_AGENCY))
        if agency is None:
            return
        self._stat(f"discovery/{role}")
        if role in ("item", "attachment") or (role == "column" and not _is_html(response)):
            yield from self._candidate(response, agency)
            if role == "item" and _is_html(response):
                yield from self._attachments(response, agency)
            return
        if role == "json":
            yield from self._items(listing_items_from_json(response.body, response.url), agency)
            return
        if not _is_html(response):
            return
        text = decode_page(response.body, _header(response, "Content-Type"))
        if role == "home":
            yield from self._discover(response, text, agency)
        else:
            yield from self._listing(response, text, agency)

    def _discover(self, response, text: str, agency: Agency) -> Iterator[scrapy.Request]:
        """A homepage or 信息公开 page: the report column if it links one, else its disclosure sections."""
        settings = self.crawler.settings
        columns = find_report_columns(text, response.url)[:settings.getint("DISCOVERY_MAX_COLUMNS", 3)]
        self._stat("discovery/columns_found", len(columns))
        for column in columns:
            yield self._request(column.url, agency, "column")
        depth = response.meta.get(META_DEPTH, 0)
        if columns or depth >= settings.getint("DISCOVERY_MAX_DEPTH", 3):
            return
        sections = find_disclosure_sections(text, response.url, limit=settings.getint("DISCOVERY_MAX_SECTIONS", 3))
        self._stat("discovery/sections_followed", len(sections))
        for section in sections:
            yield self._request(section.url, agency, "home", depth=depth + 1)

    def _listing(self, response, text: str, agency: Agency) -> Iterator[scrapy.Request]:
        settings = self.crawler.settings
        rendered = bool(response.meta.get(META_RENDERED))
        if rendered:
            self._stat("discovery/js_render")
        items = find_listing_items(text, response.url)
        yield from self._items(items, agency)
        pages = find_pagination(text, response.url, max_pages=settings.getint("DISCOVERY_MAX_PAGES", 50))
        self._stat("discovery/pages", len(pages))
        for page in pages:
            yield self._request(page, agency, "column")
        if rendered:
            return
        scripted = needs_javascript(text)
        if scripted or agency.render == "js":
            endpoints = find_json_endpoints(text, response.url)
            self._stat("discovery/json_endpoint", len(endpoints))
            for endpoint in endpoints:
                yield self._request(endpoint, agency, "json")
        if (scripted or agency.render == "js") and agency.render != "never" \
                and settings.getbool("DISCOVERY_JS_RENDER", True):
            self._stat("discovery/js_render_requested")
            yield self._render_request(response, agency)

    def _render_request(self, response, agency: Agency) -> scrapy.Request:
        from scrapy_playwright.page import PageMethod

        settings = self.crawler.settings
        methods = [PageMethod("wait_for_load_state", settings.get("DISCOVERY_JS_WAIT", "networkidle"))]
        if settings.getbool("ARCHIVE_SCREENSHOTS", True):
            methods.append(PageMethod("screenshot", full_page=True, type="png"))
        return self._request(response.url, agency, "column", depth=response.meta.get(META_DEPTH, 0),
                             playwright=True, playwright_page_methods=methods, **{
                                 META_RENDERED: True, META_STATIC_CAPTURE: response.meta.get(META_CAPTURE)})

    def _items(self, items, agency: Agency) -> Iterator[scrapy.Request]:
        self._stat("discovery/listing_items", len(items))
        for item in items:
            yield self._request(item.url, agency, "item", listing_title=item.title, listing_date=item.date_raw)

    def _attachments(self, response, agency: Agency) -> Iterator[scrapy.Request]:
        links = find_attachments(decode_page(response.body, _header(response, "Content-Type")), response.url)
        self._stat("discovery/attachments", len(links))
        for link in links:
            yield self._request(link.url, agency, "attachment", listing_title=link.text or None,
                                listing_date=response.meta.get(META_LISTING_DATE))

    def _candidate(self, response, agency: Agency) -> Iterator[ReportCandidate]:
        capture = response.meta.get(META_CAPTURE)
        if capture is None:
            self._stat("discovery/not_archived")
            return  # nothing to tie a report to: the archive failure is counted and logged
        yield ReportCandidate(
            url=response.url, agency_id=agency.id, capture_id=capture,
            payload_capture_id=response.meta.get(META_PAYLOAD_CAPTURE, capture), body=response.body,
            content_type=_header(response, "Content-Type"), headers=_headers(response),
            listing_title=response.meta.get(META_LISTING_TITLE), listing_date=response.meta.get(META_LISTING_DATE),
            filename=_filename(response), level=agency.level,
        )

    def failed(self, failure) -> None:
        """Fetch errors are recorded by the middlewares; here they are only counted by role."""
        request = failure.request if hasattr(failure, "request") else None
        role = (request.meta.get(META_ROLE) if request is not None else None) or "unknown"
        self._stat(f"discovery/failed/{role}")
        if failure.check(HttpError):
            self.logger.debug("HTTP %s for %s", failure.value.response.status, failure.value.response.url)


def _header(response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _headers(response) -> dict[str, str]:
    return {name.decode("latin-1"): ", ".join(value.decode("latin-1") for value in values)
            for name, values in response.headers.items()}


def _is_html(response) -> bool:
    content_type = (_header(response, "Content-Type") or "").lower()
    if content_type:
        return content_type.startswith(_HTML_TYPES)
    return response.body[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def _filename(response) -> str | None:
    disposition = _header(response, "Content-Disposition")
    match = _FILENAME.search(disposition or "")
    if match:
        return unquote(match.group(1)).strip() or None
    return PurePosixPath(unquote(urlsplit(response.url).path)).name or None
