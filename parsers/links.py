"""Link classification shared by the format sniffer, the page model's attachment extractor and page discovery."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

ATTACHMENT_KINDS = ("pdf", "doc", "docx", "wps", "zip", "rar", "xls", "xlsx", "ofd")
_EXT = re.compile(r"\.(" + "|".join(ATTACHMENT_KINDS) + r")$", re.IGNORECASE)


def attachment_kind(url: str, text: str = "") -> str | None:
    """The attachment type a link points to (``"pdf"``, ``"docx"`` …), or None for an ordinary page.

    Looks at the URL path, then at query parameters such as ``download.jsp?filename=x.pdf``, then at the
    link text ("附件：2022年年报.pdf"), because portals hide the file name in any of the three.
    """
    parts = urlsplit(url.strip())
    kind = _kind_of_name(unquote(parts.path))
    if kind:
        return kind
    for _, value in parse_qsl(parts.query, keep_blank_values=False):
        kind = _kind_of_name(unquote(value))
        if kind:
            return kind
    return _kind_of_name(text.strip())


def _kind_of_name(name: str) -> str | None:
    match = _EXT.search(name.strip())
    return match.group(1).lower() if match else None
