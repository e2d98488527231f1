"""``xxgk export-warc``, ``xxgk verify`` and ``xxgk reindex``: the archive itself."""
from __future__ import annotations

import argparse
import sys

from cli.alerts import mark_rebuilt_announced
from cli.common import EXIT_FAILURE, CommandError, load_agencies, load_config, open_archive_reader, open_catalog
from cli.reparsing import parse_archived, parse_candidates


def add_parsers(sub) -> None:
    help_text = ("export archived captures as one WARC file (revisit originals included), with the chosen runs' "
                 "fetch errors, column coverage and run ends")
    p = sub.add_parser("export-warc", help=help_text, description=help_text)
    choice = p.add_mutually_exclusive_group(required=True)
    choice.add_argument("--run", metavar="ID", help="the captures of one crawl run")
    choice.add_argument("--agency", metavar="ID", help="the captures of one agency")
    choice.add_argument("--all", action="store_true", help="every capture in the archive")
    p.add_argument("out", metavar="OUT", help="the WARC file to write, e.g. export.warc.gz")
    p.set_defaults(handler=cmd_export_warc)

    help_text = "re-read every capture from the object store and check digests and index offsets"
    p = sub.add_parser("verify", help=help_text, description=help_text + "; exits 1 when anything is missing or corrupt")
    p.add_argument("--run", metavar="ID", help="only the captures of this crawl run")
    p.add_argument("--show", type=int, default=20, metavar="N", help="list at most N problems (default 20)")
    p.set_defaults(handler=cmd_verify)

    help_text = "rebuild the catalog from the WARC archive alone (after the catalog was lost)"
    p = sub.add_parser("reindex", help=help_text, description=help_text + ": crawl runs, segments, captures, fetch "
                       "errors and column coverage from every WARC segment in the object store and the spool, the "
                       "reports re-parsed with the current parsers; a catalog that is not empty is refused unless "
                       "--force. Verdicts are recomputed by `xxgk status`; with alerts configured, every event the rebuilt "
                       "catalog proves is recorded as announced (the alert tables are not in the WARCs).")
    p.add_argument("--registry", help="registry file, YAML or CSV, whose agencies the reports are attributed to; "
                                      "its agencies are marked watched, as `xxgk agencies import` marks them, so "
                                      "crawls without --registry take it again (default: the shipped registry, "
                                      "nothing marked)")
    p.add_argument("--force", action="store_true",
                   help="drop the catalog (every table, verdicts and alerts included) and rebuild it")
    p.set_defaults(handler=cmd_reindex)


def cmd_export_warc(args: argparse.Namespace) -> int:
    from storage.export import ExportError, export_warc
    from storage.objects import ObjectStoreError

    reader = open_archive_reader(args)
    try:
        result = export_warc(reader, args.out, run_id=args.run, agency_id=args.agency, everything=args.all)
    except (ExportError, ObjectStoreError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        reader.catalog.close()
        reader.store.close()
    extra = f"，含 {result.originals_added} 条被 revisit 引用的原始记录" if result.originals_added else ""
    carried = f"，含原始记录所属较早运行的结束记录 {result.carried_ends} 条" if result.carried_ends else ""
    notes = f"；另有 {result.notes} 条运行记录（抓取错误、栏目覆盖、运行结束）{carried}" if result.notes else ""
    print(f"已导出 {result.captures} 条捕获{extra}到 {result.path}（{result.bytes / 1e6:.1f} MB）{notes}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from storage.objects import ObjectStoreError
    from storage.verify import verify_archive

    reader = open_archive_reader(args)
    try:
        if args.run:
            _require_run(reader.catalog, args.run)
        result = verify_archive(reader, run_id=args.run)
    except ObjectStoreError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        reader.catalog.close()
        reader.store.close()
    scope = f"运行 {args.run} 的" if args.run else ""
    print(f"已检查{scope} {result.checked} 条捕获，{result.segments} 个 WARC 段（{reader.store.location}）")
    print(f"  正常 ok       {result.ok}")
    print(f"  缺失 missing  {result.missing}")
    print(f"  损坏 corrupt  {result.corrupt}")
    if result.original_missing or result.original_corrupt:
        print(f"  原始记录缺失 {result.original_missing}，原始记录损坏 {result.original_corrupt}"
              f"（revisit 记录本身完好，但其内容所在的原始记录无法读取）")
    if result.segments_missing or result.segments_corrupt:
        print(f"  段缺失 {result.segments_missing}，段损坏 {result.segments_corrupt}")
    if result.spooled_segments:
        print(f"  其中 {len(result.spooled_segments)} 个 WARC 段尚未上传，只在本机暂存区（{reader.spool_dir}）："
              f"对象存储中还没有它们，下一次抓取会上传")
    if result.unindexed_objects:
        print(f"  未被索引的 WARC 对象 {len(result.unindexed_objects)} 个（不计为错误）")
    for problem in result.problems[: max(args.show, 0)]:
        label = _PROBLEM_LABELS[problem.status]
        where = f"捕获 {problem.capture_id} {problem.url}" if problem.capture_id is not None else f"段 {problem.warc_key}"
        print(f"  {label} {where}: {problem.detail}")
    if len(result.problems) > max(args.show, 0):
        print(f"  … 另有 {len(result.problems) - max(args.show, 0)} 个问题未列出（--show N）")
    return EXIT_FAILURE if result.failed else 0


_PROBLEM_LABELS = {"missing": "缺失", "corrupt": "损坏", "original_missing": "原始记录缺失",
                   "original_corrupt": "原始记录损坏"}


def _require_run(catalog, run_id: str) -> None:
    """A run id nobody ran (a typo) would check nothing and pass: say so instead."""
    from storage.catalog.models import CrawlRun

    with catalog.reading() as session:
        if session.get(CrawlRun, run_id) is None:
            raise CommandError(f"--run {run_id}: no such crawl run in the catalog (the web UI's 抓取记录 lists them)")


# ---------------------------------------------------------------- reindex

def cmd_reindex(args: argparse.Namespace) -> int:
    from registry.agencies import validate
    from registry.catalog_sync import store_agencies
    from storage.archive import open_reader
    from storage.objects import ObjectStoreError, open_store
    from storage.reindex import ReindexError, held_by_writers, holdings, rebuild, sources

    config = load_config(args)
    agencies = load_agencies(args.registry)
    problems = validate(agencies)
    if problems:
        check = f"xxgk agencies check {args.registry}" if args.registry else "xxgk agencies check"
        raise CommandError(f"注册表有 {len(problems)} 个问题（见 `{check}`）：{problems[0]}")
    catalog = open_catalog(args)
    try:
        held = {name: count for name, count in holdings(catalog).items() if count}
        if held and not args.force:
            raise CommandError(f"the catalog is not empty ({', '.join(f'{n} {name}' for name, n in held.items())}): "
                               f"`xxgk reindex --force` drops it and rebuilds it from the archive")
        try:
            store = open_store(config, create_bucket=False)
        except ObjectStoreError as exc:
            raise CommandError(f"cannot read the archive: {exc}") from exc
        try:
            # the store answers and no crawl is writing, or the catalog is not dropped
            try:
                found = sources(store, config.data_dir / "spool")
            except ObjectStoreError as exc:
                raise CommandError(f"cannot read the archive: {exc}") from exc
            if not found:
                raise CommandError(f"no WARC segment in {store.location} nor in {config.data_dir / 'spool'}: "
                                   f"nothing to rebuild the catalog from")
            busy = held_by_writers(found)
            if busy:
                raise CommandError(f"a running crawl is writing {busy[0]}: let it finish, then reindex")
            if held:
                catalog.recreate()
            # the registry a rebuild is given is the one the archive was crawled with: in production the imported
            # one (README "Backups"), which the lost catalog marked watched; the shipped registry is what crawls
            # take when nothing is marked, so it is not marked
            store_agencies(catalog, agencies, watched=bool(args.registry))
            again = " (the catalog is rebuilt only in part: run `xxgk reindex --force` again)"
            try:
                rebuilt = rebuild(store, catalog, config.data_dir / "spool", segments=found)
            except (ObjectStoreError, ReindexError) as exc:
                raise CommandError(f"cannot read the archive: {exc}{again}") from exc
            except (LookupError, ValueError) as exc:  # e.g. a warcinfo naming a run id the catalog refuses
                raise CommandError(f"the archive holds what cannot be indexed: {exc}{again}") from exc
            reader = open_reader(config, store=store, catalog=catalog)
            parsed = parse_archived(catalog, reader, agencies, parse_candidates(catalog))
        finally:
            store.close()
        announced = mark_rebuilt_announced(config, catalog)
    finally:
        catalog.close()
    _print_reindexed(rebuilt, parsed, store.location)
    if args.registry:
        print(f"监测名单：注册表 {args.registry} 的 {len(agencies)} 个机构（同 `xxgk agencies import`；"
              f"不带 --registry 的 crawl 与 schedule 抓取它们）")
    if announced is not None:
        print(f"告警：重建后的目录可证明的 {announced} 个事件记为已通知（告警记录不在 WARC 中；重建前已发送，不再重发）")
    return 0


def _print_reindexed(rebuilt, parsed, location: str) -> None:
    spooled = f"（其中 {rebuilt.spooled} 个仍在本地缓存区，下次抓取时上传）" if rebuilt.spooled else ""
    print(f"已从存档 {location} 重建目录：")
    print(f"  运行 {rebuilt.runs}，WARC 段 {rebuilt.segments}{spooled}，捕获 {rebuilt.captures}")
    print(f"  抓取错误 {rebuilt.errors}，栏目覆盖记录 {rebuilt.coverage}")
    print(f"  报告 {parsed.reports}（另有非报告文档 {parsed.others}，解析出错 {parsed.errors}，"
          f"未变化的重复抓取 {parsed.unchanged}）")
    print("判定未保存：运行 `xxgk status --year Y` 重新计算。")
    for key, problem in rebuilt.damaged.items():
        print(f"xxgk reindex: {key} 已损坏，损坏处的记录无法读取，其余记录已编入索引：{problem}", file=sys.stderr)
    if rebuilt.unresolved:
        print(f"xxgk reindex: {rebuilt.unresolved} 条 revisit 记录找不到其原始记录，未编入索引", file=sys.stderr)
    if rebuilt.bad_notes:
        print(f"xxgk reindex: {rebuilt.bad_notes} 条元数据记录无法还原（见日志）", file=sys.stderr)
    for problem in parsed.problems:
        print(f"xxgk reindex: {problem}", file=sys.stderr)
    if parsed.unreadable:
        print(f"xxgk reindex: {parsed.unreadable} 条捕获无法读取，未解析", file=sys.stderr)
    if parsed.foreign:
        print(f"xxgk reindex: {parsed.foreign} 份文档属于登记册之外的机关，未保存（用 --registry 指定抓取时的登记册）",
              file=sys.stderr)
