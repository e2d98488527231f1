"""The ``xxgk`` command line: the global options, one sub-command family per module of ``cli``."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from cli import agencies, alerts, archive, crawl, parse, reparse, schedule, serve, status
from cli.common import EXIT_FAILURE, CommandError

FAMILIES = (parse, agencies, crawl, schedule, status, serve, archive, reparse, alerts)   # `xxgk --help` order


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xxgk",
        description="xxgk-watch: find, archive, parse and judge 政府信息公开工作年度报告.",
    )
    parser.add_argument("--data-dir", help="where archives and the catalog live (default: $XXGK_DATA_DIR or ./xxgk-data)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for family in FAMILIES:
        family.add_parsers(sub)
    alerts.add_alerts_option(sub)   # --alerts FILE on the commands that crawl
    for subparser in sub.choices.values():  # `xxgk crawl --data-dir X` as well as `xxgk --data-dir X crawl`
        if not any("--data-dir" in action.option_strings for action in subparser._actions):
            subparser.add_argument("--data-dir", default=argparse.SUPPRESS, help="data directory (as the global option)")
    parser.commands = sub.choices   # each command's own parser, for its own usage line
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (``systemctl stop``, ``docker stop``, ``timeout``): unwinds like Ctrl-C, so a crawl asks its child to
    stop, marks its run interrupted and releases the run lock, where the default action killed the command at once
    (the lock left held, the child's parse workers' semaphores leaked)."""


def _terminate(signum, frame):
    raise Terminated()


def _unreachable(exc: BaseException) -> str | None:
    """The one line for a catalog or object store that stopped answering mid-command (a traceback before)."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.objects import ObjectStoreError

    first = (str(exc).strip().splitlines() or [""])[0][:200]
    if isinstance(exc, SQLAlchemyError):
        return f"目录数据库无法访问，命令未完成（{type(exc).__name__}: {first}）"
    if isinstance(exc, ObjectStoreError):
        return f"对象存储无法访问，命令未完成（{first}）"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:   # said by the command's own parser: its usage, not the whole program's
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.handler(args)
    except CommandError as exc:
        print(f"xxgk {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:  # `xxgk … | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - only a store or catalog that stopped answering is said in one line
        reason = _unreachable(exc)
        if reason is None:
            raise
        print(f"xxgk {args.command}: {reason}", file=sys.stderr)
        return EXIT_FAILURE
    except Terminated:
        print(f"xxgk {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"xxgk {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
