"""Walking a rendered listing's pages inside the browser, until its items stop or DISCOVERY_MAX_PAGES.

Each step tries, in turn, what turns a script-built listing's page (the one that worked last goes first):
``script`` runs the code of a ``javascript:`` / onclick pager link for the next page number; ``control`` clicks a
visible 下一页 / next control that names no real page (real page links are Scrapy's to follow); ``endpoint``
asks the data URL the page itself called (an XHR/fetch answer with listing items) for the next page number, by
the page's own ``fetch`` so that cookies, referer and archiving stay the browser's. After a step the page is
given time to go quiet, then its DOM items and the new data answers are read. The walk stops when a step yields no
new item.

A walk is ``complete`` only when the end of the listing was seen, not merely reached: the script pager offers no
further page (``pager_exhausted``), the next control vanished (``next_control_gone``), the data answers' own page
or item total was reached (``total_reached``), or the page has no pager at all and no script error kept it empty
(``single_page``). What the walk read becomes ``response.meta["xxgk_listing"]`` (see ``ListingRead.as_meta``).
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError

from crawler.browser import META_WATCH, Exchange, PageWatch
from parsers.discovery import (ListingItem, ListingTotals, find_listing_items, find_script_pager,
                               listing_items_from_json, listing_totals_from_json, next_page_request)
from parsers.formats.page import Page, absolute_url

log = logging.getLogger(__name__)

META_LISTING = "xxgk_listing"
PROVEN_ENDS = frozenset({"pager_exhausted", "next_control_gone", "total_reached", "single_page"})
_NEXT_CONTROL = re.compile(r"^\s*(?:下一页|下页|后一?页|下一頁|next(?:\s*page)?|>|›)\s*$", re.IGNORECASE)
_DISABLED = re.compile(r"\bdisabled?\b", re.IGNORECASE)
_RUN_SCRIPT = "code => { new Function(code)(); }"
_FETCH = """async ({url, method, body, contentType}) => {
  const init = {method: method, credentials: 'same-origin'};
  if (body !== null) { init.body = body; if (contentType) { init.headers = {'Content-Type': contentType}; } }
  const answer = await fetch(url, init);
  await answer.text();
  return answer.status;
}"""


@dataclass
class ListingRead:
    """What one rendered column page gave: its items over every page walked, and how the walk ended."""

    column: str
    pages_walked: int = 1
    end: str = "single_page"
    paged_by: str | None = None          # script | control | endpoint: the step that turned the pages
    script_errors: list[str] = field(default_factory=list)
    items: list[ListingItem] = field(default_factory=list)
    robots_blocked: list[str] = field(default_factory=list)   # requests of the page robots.txt forbade

    @property
    def complete(self) -> bool:
        if self.robots_blocked:
            return False   # what the forbidden requests would have listed is unknown
        return self.end in PROVEN_ENDS and not (self.end == "single_page" and self.script_errors and not self.items)

    def as_meta(self) -> dict:
        """The ``xxgk_listing`` request meta the spider and coverage read."""
        return {"column": self.column, "pages_walked": self.pages_walked, "complete": self.complete,
                "rendered": True, "script_errors": list(self.script_errors), "items": list(self.items),
                "end": self.end, "paged_by": self.paged_by, "robots_blocked": list(self.robots_blocked)}


class ListingWalker:
    """Walks the pages of rendered listings (``walk``); one per crawl, settings read once."""

    def __init__(self, *, max_pages: int, idle: float, step_timeout: float, delay: float):
        self.max_pages = max_pages
        self.idle = idle
        self.step_timeout = step_timeout
        self.delay = delay

    @classmethod
    def from_crawler(cls, crawler) -> "ListingWalker":
        settings = crawler.settings
        return cls(max_pages=settings.getint("DISCOVERY_MAX_PAGES"), idle=settings.getfloat("DISCOVERY_JS_IDLE"),
                   step_timeout=settings.getfloat("DISCOVERY_JS_STEP_TIMEOUT"),
                   delay=settings.getfloat("DOWNLOAD_DELAY"))

    async def walk(self, response, column: str) -> ListingRead:
        """Read the rendered ``response`` page by page in its browser page, then close the page."""
        watch: PageWatch | None = response.meta.get(META_WATCH)
        page = response.meta.get("playwright_page")
        read = ListingRead(column=column)
        if watch is None or page is None:
            read.items = find_listing_items(Page.from_bytes(response.body, "text/html; charset=utf-8"), response.url)
            return read
        walk = _Walk(self, watch, page, read)
        try:
            await walk.run(response)
        except (PlaywrightError, asyncio.TimeoutError) as exc:
            log.warning("walking the rendered listing %s stopped: %s", response.url,
                        exc if isinstance(exc, PlaywrightError) else "the page stopped answering (hung renderer?)")
            read.end = "browser_error"   # what was read until then still counts, but the end was not seen
        finally:
            read.items = list(walk.items.values())
            read.script_errors = list(watch.script_errors)
            read.robots_blocked = list(watch.robots_blocked)
            await watch.close()
        return read


def _address(url: str) -> str:
    """A data URL without its query and without a trailing page number (list_2.json → list_.json)."""
    path = urlsplit(url)._replace(query="", fragment="").geturl()
    return re.sub(r"\d+(?=(?:\.\w+)?/?$)", "", path)


class _Walk:
    """The state of one walk: the items read so far, the data answers read, what pages the listing offers."""

    def __init__(self, walker: ListingWalker, watch: PageWatch, page, read: ListingRead):
        self.walker = walker
        self.watch = watch
        self.page = page
        self.read = read
        self.items: dict[str, ListingItem] = {}
        self.dom_urls: set[str] = set()
        self.json_urls: set[str] = set()
        self.exchanges_read = 0
        self.listing_exchange: Exchange | None = None   # the latest data answer with items: the endpoint to page
        self.totals = ListingTotals()
        self.pager = find_script_pager("")
        self.control_seen = False
        self.html = ""

    async def run(self, response) -> None:
        # the render went quiet before Scrapy read it (crawler.browser); nothing was done to the page since
        await self.watch.quiet(self.walker.idle, self.walker.step_timeout, acted=False)
        await self.take_in(await self.content() or response.text)
        steps = {"script": self.by_script, "control": self.by_control, "endpoint": self.by_endpoint}
        while True:
            end = await self.proven_end()
            if end is not None:
                self.read.end = end
                break
            if self.read.pages_walked > self.walker.max_pages:
                self.read.end = "max_pages"
                break
            if self.walker.delay and self.read.pages_walked > 1:
                # a paging step is a request to the portal like any other: DOWNLOAD_DELAY after the last one (and
                # none after the walk's last step, whose end is proven without asking the portal again)
                await asyncio.sleep(self.walker.delay)
            order = sorted(steps, key=lambda name: name != self.read.paged_by)
            for name in order:
                before = len(self.items)
                if await steps[name]():
                    await self.watch.quiet(self.walker.idle, self.walker.step_timeout)
                    await self.take_in(await self.content())
                    if len(self.items) > before:
                        self.read.paged_by = name
                        break
            else:
                self.read.end = "no_new_items"
                break
            self.read.pages_walked += 1
            await self.watch.keep_dom(self.html, self.read.pages_walked)

    async def _answer(self, call):
        """A call into the page, which Playwright does not bound: a renderer busy in a script that never yields
        (or a wedged Chromium) never answers it, and the walk would wait forever (asyncio.TimeoutError ends it)."""
        return await asyncio.wait_for(call, self.walker.step_timeout)

    # -- reading

    async def content(self) -> str:
        for _ in range(3):
            try:
                return await self._answer(self.page.content())
            except PlaywrightError:  # navigating: a clicked control may load a new document
                await self.page.wait_for_load_state("load", timeout=self.walker.step_timeout * 1000)
        return ""

    async def take_in(self, html: str) -> None:
        """Read the DOM's items and the listing's data answers that arrived since the last read."""
        if html:
            self.html = html
            self.pager = find_script_pager(html)
            for item in find_listing_items(Page(html), self.page.url):
                self.items.setdefault(item.url, item)
                self.dom_urls.add(item.url)
        for exchange in self.watch.exchanges[self.exchanges_read:]:
            items = listing_items_from_json(exchange.payload, exchange.url)
            if not self.is_listing_answer(exchange, items):
                continue  # another widget's data (hot news, a site menu): not this column's items
            self.listing_exchange = exchange
            self.json_urls.update(item.url for item in items)
            self.totals = listing_totals_from_json(exchange.payload)
            for item in items:
                self.items.setdefault(item.url, item)
        self.exchanges_read = len(self.watch.exchanges)

    def is_listing_answer(self, exchange: Exchange, items: list[ListingItem]) -> bool:
        """The page shows this answer's items as its listing, or it is a further page of the listing's own data
        URL (the same address but for the page number: what the endpoint step asks for)."""
        if any(item.url in self.dom_urls for item in items):
            return True
        known = self.listing_exchange
        return known is not None and known.method == exchange.method and _address(known.url) == _address(exchange.url)

    async def proven_end(self) -> str | None:
        number = self.read.pages_walked
        if self.totals.pages is not None and number >= self.totals.pages:
            return "total_reached"
        if self.totals.items is not None and len(self.json_urls) >= self.totals.items:
            return "total_reached"
        if self.pager.exhausted_at(number):
            return "pager_exhausted"
        control = await self.next_control()
        if control is not None:
            self.control_seen = True
            return None
        if self.control_seen:
            return "next_control_gone"
        if number == 1 and not self.pager.calls and self.pager.next_call is None and not self.pageable():
            return "single_page"
        return None

    def pageable(self) -> bool:
        exchange = self.listing_exchange
        return exchange is not None and next_page_request(exchange.url, exchange.body) is not None

    # -- steps: each returns whether it did something

    async def by_script(self) -> bool:
        code = self.pager.call_for(self.read.pages_walked + 1)
        if code is None:
            return False
        try:
            await self._answer(self.page.evaluate(_RUN_SCRIPT, code))
        except PlaywrightError as exc:
            log.debug("pager call %r on %s failed: %s", code, self.page.url, exc)
            return False
        return True

    async def by_control(self) -> bool:
        control = await self.next_control()
        if control is None:
            return False
        try:
            await control.click(timeout=self.walker.step_timeout * 1000)
        except PlaywrightError as exc:
            log.debug("next control on %s could not be clicked: %s", self.page.url, exc)
            return False
        return True

    async def by_endpoint(self) -> bool:
        exchange = self.listing_exchange
        paged = next_page_request(exchange.url, exchange.body) if exchange is not None else None
        if paged is None:
            return False
        try:
            await self._answer(self.page.evaluate(_FETCH, {"url": paged.url, "method": exchange.method,
                                                           "body": paged.body, "contentType": exchange.content_type}))
        except PlaywrightError as exc:
            log.debug("asking %s for page %d failed: %s", paged.url, paged.number, exc)
            return False
        return True

    async def next_control(self):
        """A visible, enabled 下一页 / next control that is not a link to a real page, or None."""
        candidates = self.page.get_by_text(_NEXT_CONTROL)
        for index in range(min(await self._answer(candidates.count()), 6)):
            control = candidates.nth(index)
            try:
                # is_visible takes no timeout (Playwright answers it at once from a live renderer, never from a
                # hung one); the attributes' own 30 s default is longer than a step
                if not await self._answer(control.is_visible()):
                    continue
                href = await self._answer(control.get_attribute("href"))
                if href and absolute_url(href, self.page.url):
                    continue  # a real page: find_pagination hands it to Scrapy
                if (await self._answer(control.get_attribute("disabled")) is not None
                        or _DISABLED.search(await self._answer(control.get_attribute("class")) or "")):
                    continue
            except PlaywrightError:
                continue
            return control
        return None
