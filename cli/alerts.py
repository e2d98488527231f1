"""``xxgk alerts test|pending``, the ``--alerts FILE`` option of the crawling commands, and ``after_run``: the
alerts of each crawl run (events recorded, then every channel's undelivered messages sent), which
``cli.crawl.crawl_and_judge`` calls after each run.

The settings file is ``--alerts FILE``, else ``$XXGK_ALERTS``, else ``alerts.toml`` in the data directory when it
exists (``Config.alerts_path``); without any, there are no alerts.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import EXIT_FAILURE, CommandError, load_config, print_table

CRAWLING_COMMANDS = ("crawl", "demo", "schedule")


def add_parsers(sub) -> None:
    p = sub.add_parser("alerts", help="send a test alert to each channel; list the alerts not delivered yet",
                       description="alerts after each crawl run (see README, Alerts): `test` sends a test message "
                                   "to every configured channel, `pending` lists the deliveries still waiting")
    p.add_argument("action", choices=["test", "pending"])
    _add_option(p)
    p.add_argument("--format", choices=["table", "json"], default="table", help="pending: output format")
    p.set_defaults(handler=cmd_alerts)


def add_alerts_option(sub) -> None:
    """``--alerts FILE`` on the commands that crawl (checked before the crawl starts, not after)."""
    for name in CRAWLING_COMMANDS:
        parser = sub.choices.get(name)
        if parser is not None and not any("--alerts" in action.option_strings for action in parser._actions):
            _add_option(parser)


def _add_option(parser) -> None:
    parser.add_argument("--alerts", metavar="FILE", type=_settings_file,
                        help="alert settings, TOML (default: $XXGK_ALERTS, else alerts.toml in the data directory)")


def _settings_file(value: str) -> str:
    from monitor.alert_settings import AlertSettingsError, load_settings

    try:
        load_settings(Path(value).expanduser())
    except AlertSettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def load_alert_settings(config):
    """The alert settings, or None when there are none (no file named and no default file)."""
    from monitor.alert_settings import load_settings

    if config.alerts_file is None and not config.alerts_path.exists():
        return None
    return load_settings(config.alerts_path)


def links_for(settings):
    from web.urls import Urls

    return Urls(settings.web_base)


# ---------------------------------------------------------------- after each run

def after_run(config, catalog, agency_ids, *, summary=None, run_id: str | None = None,
              failure: str | None = None, dead_runs=None) -> None:
    """Record the events of a run (its ``summary``, or its ``run_id`` and the ``failure`` that stopped it, and
    ``dead_runs``: the runs it found dead when it took over their lock, id -> why) and send what every channel has
    not received yet. Never raises: the crawl's result stands whatever happens to its
    alerts; a problem is one line on stderr, and the next run retries."""
    from monitor.alert_settings import AlertSettingsError
    from monitor.alerts import record, run_events
    from monitor.delivery import deliver_pending

    if summary is not None and summary.status == "skipped":
        return  # another process holds the run lock: it announces its own run
    try:
        settings = load_alert_settings(config)
    except AlertSettingsError as exc:
        print(f"xxgk: 告警配置有误，本次未发送告警：{exc}", file=sys.stderr)
        return
    if settings is None:
        return
    run_id = summary.run_id if summary is not None else run_id
    if failure is None and summary is not None and summary.status == "failed":
        failure = summary.message or f"抓取异常结束（{summary.finish_reason}）"
    try:
        with catalog.reading() as session:
            events = run_events(session, agency_ids=list(agency_ids), run_id=run_id, failure=failure,
                                dead_runs=dead_runs or {})
        with catalog.session() as session:
            new = record(session, events, settings.channels_for, run_id=run_id)
        result = deliver_pending(catalog, settings, links_for(settings))
    except Exception as exc:  # noqa: BLE001 - alerts are news about the crawl, never its failure
        print(f"xxgk: 告警未能处理（{type(exc).__name__}: {exc}），下次运行时重试", file=sys.stderr)
        return
    if new or result.sent_messages:
        print(f"告警：新事件 {len(new)} 个；已发送 {result.sent_messages} 条消息（{result.sent_events} 个事件）")
    line = result.failure_line()
    if line:
        print(f"xxgk: {line}", file=sys.stderr)


def mark_rebuilt_announced(config, catalog) -> int | None:
    """After ``xxgk reindex``: record every event the rebuilt catalog proves as announced, without a delivery
    (the lost catalog had announced them: its alert tables are not in the WARCs), so that the next run announces
    only what is new. Returns how many, or None without alert settings (nothing was announced then either)."""
    from monitor.alert_settings import AlertSettingsError
    from monitor.alerts import rebuilt_events, record
    from monitor.clock import today
    from parsers.beijing import beijing_date
    from storage.catalog import queries

    try:
        if load_alert_settings(config) is None:
            return None
    except AlertSettingsError as exc:  # a file is there: alerts are wanted, the next run will say what is wrong
        print(f"xxgk: 告警配置有误：{exc}", file=sys.stderr)
    with catalog.reading() as session:
        ended = [run.finished_at for run in queries.list_runs(session, limit=50) if run.finished_at is not None]
    # the verdicts the crawls left were judged on the day of the last run
    events = rebuilt_events(catalog, as_of=beijing_date(max(ended)) if ended else today())
    with catalog.session() as session:
        return len(record(session, events, lambda _kind: []))


# ---------------------------------------------------------------- xxgk alerts

def cmd_alerts(args: argparse.Namespace) -> int:
    from monitor.alert_settings import AlertSettingsError

    config = load_config(args)
    try:
        settings = load_alert_settings(config)
    except AlertSettingsError as exc:
        raise CommandError(str(exc)) from exc
    if args.action == "test":
        return _test(config, settings)
    return _pending(args, settings)


def _test(config, settings) -> int:
    from monitor.delivery import send_tests

    if settings is None:
        raise CommandError(f"no alert settings: write {config.alerts_path} or name a file with --alerts FILE or "
                           f"XXGK_ALERTS (see README, Alerts)")
    if not settings.channels:
        raise CommandError(f"{settings.source}: no [[webhook]] or [[email]] channel to test")
    failed = 0
    for channel, error in send_tests(settings):
        if error is None:
            print(f"已发送  {channel}")
        else:
            failed += 1
            print(f"失败    {channel}：{error}")
    print(f"{len(settings.channels)} 个渠道，{failed} 个失败")
    return EXIT_FAILURE if failed else 0


def _pending(args: argparse.Namespace, settings) -> int:
    from monitor.alerts import KIND_LABELS
    from storage.catalog import Catalog, CatalogMissing, queries
    from storage.catalog.database import CatalogError

    config = load_config(args)
    try:
        catalog = Catalog.open(config, create=False)
    except CatalogMissing:
        if not config.data_dir.is_dir() and config.database_url.startswith("sqlite"):
            # nothing was ever crawled here: more likely a mistyped XXGK_DATA_DIR than an empty queue
            raise CommandError(f"no data directory at {config.data_dir}: nothing was crawled there "
                               f"(--data-dir or XXGK_DATA_DIR)") from None
        rows = []   # a fresh data directory: no run has recorded an alert yet
    except CatalogError as exc:
        raise CommandError(str(exc)) from exc
    else:
        try:
            with catalog.reading() as session:
                rows = queries.alert_deliveries(session, pending=True)
        finally:
            catalog.close()
    configured = set(settings.channels) if settings is not None else None
    data = [{"key": event.key, "kind": event.kind, "agency_id": event.agency_id, "report_year": event.report_year,
             "channel": delivery.channel, "attempts": delivery.attempts, "last_error": delivery.last_error,
             "created_at": event.created_at.isoformat(), "run_id": event.run_id,
             "configured": None if configured is None else delivery.channel in configured}
            for delivery, event in rows]
    if args.format == "json":
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    if not data:
        print("没有待发送的告警")
        return 0
    print_table(["事件", "类型", "机关", "年度", "渠道", "尝试次数", "最后错误"],
                [[row["key"], KIND_LABELS.get(row["kind"], row["kind"]), row["agency_id"] or "",
                  row["report_year"] or "",
                  row["channel"] + ("（已不在配置中）" if row["configured"] is False else ""), row["attempts"],
                  row["last_error"] or ""] for row in data])
    print(f"共 {len(data)} 条待发送")
    return 0
