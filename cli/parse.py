"""``xxgk parse``: one document (a file or a URL fetched once) in, its record out."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import EXIT_FAILURE, CommandError, positive_number


def add_parsers(sub) -> None:
    p = sub.add_parser("parse", help="parse one document (file or URL) and print its record")
    p.add_argument("target", metavar="PATH_OR_URL")
    p.add_argument("--level", choices=["department", "government", "township"],
                   help="agency level: the report's deadline is shown for it")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.add_argument("--with-text", action="store_true", help="include the full main text in the JSON")
    p.add_argument("--timeout", type=positive_number, default=30.0, help="seconds to wait for a URL (default 30)")
    p.add_argument("--no-ocr", action="store_true", help="leave scanned pages and images unread (no OCR)")
    p.add_argument("--ocr-budget", type=positive_number, default=120.0, metavar="S",
                   help="seconds of OCR for a scanned document at most (default 120)")
    p.set_defaults(handler=cmd_parse)


def cmd_parse(args: argparse.Namespace) -> int:
    from parsers.document import parse_document
    from parsers.formats.ocr import OCR_OFF, OcrOptions
    from parsers.record import FetchContext
    from cli.render import render_record_text

    target: str = args.target
    if target.startswith(("http://", "https://")):
        data, context = _fetch_once(target, args.timeout)
    else:
        path = Path(target)
        if not path.exists():
            raise CommandError(f"no such file: {target}")
        if not path.is_file():
            raise CommandError(f"not a regular file: {target}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {target}: {exc.strerror or exc}") from exc
        context = FetchContext(url=None, filename=path.name)
    if args.level:
        context = _with_level(context, args.level)
    record = parse_document(data, context, ocr=OCR_OFF if args.no_ocr else OcrOptions(time_budget=args.ocr_budget))
    deadline = _deadline(record.report_year, args.level) if record.kind == "report" else None
    if args.json:
        payload = record.to_json()
        if not args.with_text:
            payload.pop("text", None)
        if deadline is not None:
            payload["deadline"] = {"date": deadline.date.isoformat(), "legal_basis": deadline.rule.legal_basis}
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_record_text(record))
        if deadline is not None:
            sys.stdout.write(f"截止日期：{deadline.date.isoformat()}（{deadline.rule.legal_basis}）\n")
    if record.error is not None:   # the record (with its error) is the output; the reason goes to stderr too
        print(f"xxgk parse: {target}: {record.error}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _deadline(report_year: int | None, level: str | None):
    """The deadline of the report's year for an agency of ``level`` (the shipped rules), when both are known."""
    from monitor.deadlines import load_rules

    if report_year is None or level is None:
        return None
    return load_rules().find(report_year, level)


def _with_level(context, level: str):
    from dataclasses import replace
    return replace(context, level=level)


def _fetch_once(url: str, timeout: float):
    """One plain GET: `xxgk parse URL` reads a single document, it does not crawl."""
    import httpx
    from parsers.record import FetchContext

    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True,
                             headers={"User-Agent": user_agent()})
    except (httpx.HTTPError, httpx.InvalidURL) as exc:   # InvalidURL ("http://[::1") is not an HTTPError
        raise CommandError(f"cannot fetch {url}: {exc.__class__.__name__}: {exc}") from exc
    if response.status_code >= 400:
        raise CommandError(f"cannot fetch {url}: HTTP {response.status_code}")
    context = FetchContext(
        url=str(response.url),
        content_type=response.headers.get("content-type"),
        headers=dict(response.headers),
        filename=Path(response.url.path).name or None,
    )
    return response.content, context


def user_agent() -> str:
    from crawler import USER_AGENT
    return USER_AGENT
