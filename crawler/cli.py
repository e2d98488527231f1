"""The ``xxgk`` command line.

Each subcommand is a thin adapter: it reads arguments and configuration, calls the module that does the job,
and turns a failure into one line on stderr and a non-zero exit status.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A command could not do its job; the message is the one line shown to the user."""


# ---------------------------------------------------------------- parse

def cmd_parse(args: argparse.Namespace) -> int:
    from parsers.document import parse_document
    from parsers.record import FetchContext
    from crawler.render_record import render_record_text

    target: str = args.target
    if target.startswith(("http://", "https://")):
        data, context = _fetch_once(target, args.timeout)
    else:
        path = Path(target)
        if not path.is_file():
            raise CommandError(f"no such file: {target}")
        data = path.read_bytes()
        context = FetchContext(url=None, filename=path.name)
    if args.level:
        context = _with_level(context, args.level)
    record = parse_document(data, context)
    if args.json:
        payload = record.to_json()
        if not args.with_text:
            payload.pop("text", None)
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_record_text(record))
    return 0 if record.error is None else EXIT_FAILURE


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
    except httpx.HTTPError as exc:
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


# ---------------------------------------------------------------- not built yet

def _not_built(issue: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        raise CommandError(f"`xxgk {args.command}` is not built yet (planned in the {issue} issue)")
    return handler


# ---------------------------------------------------------------- wiring

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xxgk",
        description="xxgk-watch: find, archive, parse and judge 政府信息公开工作年度报告.",
    )
    parser.add_argument("--data-dir", help="where archives and the catalog live (default: $XXGK_DATA_DIR or ./xxgk-data)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("parse", help="parse one document (file or URL) and print its record")
    p.add_argument("target", metavar="PATH_OR_URL")
    p.add_argument("--level", choices=["department", "government", "township"],
                   help="agency level, used for the deadline shown")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.add_argument("--with-text", action="store_true", help="include the full main text in the JSON")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a URL (default 30)")
    p.set_defaults(handler=cmd_parse)

    for name, help_text, issue in [
        ("crawl", "crawl the agency registry and archive every response", "crawler"),
        ("status", "timeliness verdicts per agency and report year", "monitoring"),
        ("reports", "list parsed reports", "monitoring"),
        ("agencies", "import, list and check the agency registry", "crawler"),
        ("serve", "start the web UI", "monitoring"),
        ("schedule", "run crawls on a schedule", "crawler"),
        ("demo", "serve the bundled demo portals, crawl, parse and print the timeliness table", "crawler"),
        ("export-warc", "export archived captures as one WARC file", "storage"),
        ("verify", "re-read every capture from the object store and check digests", "storage"),
    ]:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=_not_built(issue))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CommandError as exc:
        print(f"xxgk {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"xxgk {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
