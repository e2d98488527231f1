"""A capture's content: its payload with the Content-Encoding the server applied undone.

The archive keeps a response as the server sent it (WARC: the payload as received, a gzip body as gzip, its header
saying so), and its digests name those bytes. Whatever reads the page itself (the listing entries of a capture, a
re-parse, a screenshot, the web UI's view and diff) needs the content: a gzip-served column read as HTML lists
nothing, and its years were proven 未发布.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

from parsers.headers import header_value

# what a decoded page may grow to: Scrapy's own cap on a decompressed body (DOWNLOAD_MAXSIZE) by default
MAX_CONTENT = 50 * 1024 * 1024


class ContentError(ValueError):
    """A payload whose Content-Encoding cannot be undone: broken, unknown, or larger than allowed once decoded."""


def content_codings(headers: Mapping | Iterable[tuple]) -> list[str]:
    """The codings the server applied, in the order it applied them (``Content-Encoding: gzip, br``)."""
    value = header_value(headers, "Content-Encoding") or ""
    codings = [coding.strip().lower() for coding in value.split(",")]
    return [{"x-gzip": "gzip"}.get(coding, coding) for coding in codings if coding and coding != "identity"]


def decoded_content(headers: Mapping | Iterable[tuple], payload: bytes, *, limit: int = MAX_CONTENT) -> bytes:
    """``payload`` with its Content-Encoding undone; raises ContentError when it cannot be."""
    content = payload
    for coding in reversed(content_codings(headers)):
        decode = _DECODERS.get(coding)
        if decode is None:
            raise ContentError(f"Content-Encoding {coding} is not supported")
        try:
            content = decode(content, limit)
        except ContentError as exc:
            raise ContentError(f"Content-Encoding {coding}: {exc}") from exc
        except (zlib.error, OSError, EOFError) as exc:
            raise ContentError(f"Content-Encoding {coding}: the body does not decode ({exc})") from exc
        except Exception as exc:  # noqa: BLE001 - brotli raises its own error type
            raise ContentError(f"Content-Encoding {coding}: the body does not decode ({exc})") from exc
    return content


def content_or_payload(headers: Mapping | Iterable[tuple], payload: bytes, *, limit: int = MAX_CONTENT) -> bytes:
    """The content when it decodes, else the payload as stored (a parser then says what it is not)."""
    try:
        return decoded_content(headers, payload, limit=limit)
    except ContentError:
        return payload


def _zlib_stream(data: bytes, limit: int, wbits: int) -> bytes:
    """Every member of a gzip (or one zlib/raw deflate stream), stopping past ``limit``."""
    pieces, size = [], 0
    while data:
        decompressor = zlib.decompressobj(wbits)
        piece = decompressor.decompress(data, limit + 1 - size)
        if decompressor.unconsumed_tail:
            raise ContentError(f"larger than {limit} bytes once decoded")
        pieces.append(piece)
        size += len(piece)
        if size > limit:
            raise ContentError(f"larger than {limit} bytes once decoded")
        if not decompressor.eof:
            raise ContentError("the compressed body is cut short")
        data = decompressor.unused_data if wbits == zlib.MAX_WBITS | 16 else b""
        data = data.lstrip(b"\0")   # padding some servers put after the last member
    return b"".join(pieces)


def _gzip(data: bytes, limit: int) -> bytes:
    return _zlib_stream(data, limit, zlib.MAX_WBITS | 16)


def _deflate(data: bytes, limit: int) -> bytes:
    # RFC 9110's deflate is zlib-wrapped; some servers send raw deflate
    try:
        return _zlib_stream(data, limit, zlib.MAX_WBITS)
    except zlib.error:
        return _zlib_stream(data, limit, -zlib.MAX_WBITS)


def _brotli(data: bytes, limit: int) -> bytes:
    import brotli

    decompressor = brotli.Decompressor()
    content = decompressor.process(data, output_buffer_limit=limit + 1)
    if len(content) > limit:
        raise ContentError(f"larger than {limit} bytes once decoded")
    if not decompressor.is_finished():
        raise ContentError("the compressed body is cut short")
    return content


_DECODERS = {"gzip": _gzip, "deflate": _deflate, "br": _brotli}
