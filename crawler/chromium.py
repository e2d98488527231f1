"""One Chromium per crawl process, shared by scrapy-playwright's renders and the report screenshots.

scrapy-playwright makes one download handler per URL scheme, and each started a Playwright driver of its own
(~100 MB) and, once it rendered a page, a Chromium of its own (~250 MB). ``SharedChromium`` is its browser
provider (``PLAYWRIGHT_BROWSER_PROVIDER``): every instance in the process hands out the same
``storage.screenshots.Chromium``, started on first use and closed when its last user closes. The screenshot pipeline
(``crawler.screenshots``) is one more user, so report pages are rendered as pages of the browser the crawl already
has rather than of a second one. The first user's launch options hold for all (``PLAYWRIGHT_LAUNCH_OPTIONS``,
by default ``storage.config.CHROMIUM_LAUNCH_OPTIONS``, as the screenshots use).
"""
from __future__ import annotations

from typing import Any, ClassVar

from scrapy.exceptions import NotSupported

from storage.screenshots import Chromium


class SharedChromium:
    _shared: ClassVar[Chromium | None] = None
    _users: ClassVar[int] = 0

    def __init__(self, config: Any = None):
        self.launch_options = getattr(config, "launch_options", None) or None
        self._joined = False

    async def start(self) -> None:
        """Join the process's Chromium (its Playwright driver starts now, the browser on first use)."""
        if not self._joined:
            if SharedChromium._shared is None:
                SharedChromium._shared = Chromium(self.launch_options)
            SharedChromium._users += 1
            self._joined = True
        await SharedChromium._shared.start()

    async def launch_browser(self):
        await self.start()
        return await SharedChromium._shared.browser()

    async def unwedge(self) -> bool:
        """Kill the shared browser if it stopped answering (``storage.screenshots.Chromium.unwedge``)."""
        shared = SharedChromium._shared
        return await shared.unwedge() if shared is not None else False

    async def launch_persistent_context(self, context_kwargs: dict):
        raise NotSupported("the crawl renders in one shared browser, not in a persistent context (user_data_dir)")

    async def close(self) -> None:
        """Leave; the last user to leave closes the browser and stops the driver."""
        if not self._joined:
            return
        self._joined = False
        SharedChromium._users -= 1
        if SharedChromium._users == 0 and SharedChromium._shared is not None:
            shared, SharedChromium._shared = SharedChromium._shared, None
            await shared.close()
