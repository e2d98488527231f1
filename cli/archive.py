"""``xxgk export-warc`` and ``xxgk verify``: the archive itself."""
from __future__ import annotations

import argparse

from cli.common import EXIT_FAILURE, CommandError, open_archive_reader


def add_parsers(sub) -> None:
    help_text = "export archived captures as one WARC file (revisit originals included)"
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
    print(f"已导出 {result.captures} 条捕获{extra}到 {result.path}（{result.bytes / 1e6:.1f} MB）")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from storage.objects import ObjectStoreError
    from storage.verify import verify_archive

    reader = open_archive_reader(args)
    try:
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
    if result.segments_missing or result.segments_corrupt:
        print(f"  段缺失 {result.segments_missing}，段损坏 {result.segments_corrupt}")
    if result.unindexed_objects:
        print(f"  未被索引的 WARC 对象 {len(result.unindexed_objects)} 个（不计为错误）")
    for problem in result.problems[: max(args.show, 0)]:
        label = "缺失" if problem.status == "missing" else "损坏"
        where = f"捕获 {problem.capture_id} {problem.url}" if problem.capture_id is not None else f"段 {problem.warc_key}"
        print(f"  {label} {where}: {problem.detail}")
    if len(result.problems) > max(args.show, 0):
        print(f"  … 另有 {len(result.problems) - max(args.show, 0)} 个问题未列出（--show N）")
    return EXIT_FAILURE if result.failed else 0
