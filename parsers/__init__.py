"""Pure parsers: bytes of a fetched document plus what the crawler knows in, one ``ReportRecord`` out.

No network, no database, no clock: callers pass "as of" dates explicitly.
"""
from parsers.record import FetchContext, ReportRecord


def parse_document(data: bytes, context: FetchContext | None = None, **options) -> ReportRecord:
    from parsers.document import parse_document as _parse

    return _parse(data, context, **options)


__all__ = ["FetchContext", "ReportRecord", "parse_document"]
