"""``xxgk export-warc``, ``xxgk verify`` and ``xxgk reindex``: the archive itself."""
from __future__ import annotations

import argparse
import sys
from collections import deque
from dataclasses import dataclass

from cli.common import EXIT_FAILURE, CommandError, load_agencies, load_config, open_archive_reader, open_catalog


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

    help_text = "rebuild the catalog from the WARC archive alone (after the catalog was lost)"
    p = sub.add_parser("reindex", help=help_text, description=help_text + ": crawl runs, segments, captures, fetch "
                       "errors and column coverage from every WARC segment in the object store and the spool, the "
                       "reports re-parsed with the current parsers; a catalog that is not empty is refused unless "
                       "--force. Verdicts are recomputed by `xxgk status`.")
    p.add_argument("--registry", help="registry file, YAML or CSV, whose agencies the reports are attributed to "
                                      "(default: the shipped registry)")
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
        raise CommandError(f"{len(problems)} problems in the registry (see `xxgk agencies check`): {problems[0]}")
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
            store_agencies(catalog, agencies)
            again = " (the catalog is rebuilt only in part: run `xxgk reindex --force` again)"
            try:
                rebuilt = rebuild(store, catalog, config.data_dir / "spool", segments=found)
            except (ObjectStoreError, ReindexError) as exc:
                raise CommandError(f"cannot read the archive: {exc}{again}") from exc
            except (LookupError, ValueError) as exc:  # e.g. a warcinfo naming a run id the catalog refuses
                raise CommandError(f"the archive holds what cannot be indexed: {exc}{again}") from exc
            reader = open_reader(config, store=store, catalog=catalog)
            parsed = _reparse(catalog, reader, agencies)
        finally:
            store.close()
    finally:
        catalog.close()
    _print_reindexed(rebuilt, parsed, store.location)
    return 0


@dataclass
class _Parsed:
    reports: int = 0
    others: int = 0           # parsed, and not a report (a notice, a listing …), as the crawl keeps them too
    errors: int = 0           # parses that failed (a row with the error, as in the crawl)
    unchanged: int = 0        # revisits of a document already parsed: no new row, as in the crawl
    unreadable: int = 0       # captures whose bytes could not be read
    foreign: int = 0          # documents of agencies the registry does not have: not stored


def _reparse(catalog, reader, agencies) -> _Parsed:
    """Parse the captures the crawl parses (``crawler.spiders.reports``: an item or attachment, or a column that is
    not an HTML page, answered 2xx or confirmed by a 304), the way its pipeline does (``crawler.pipelines``: the
    same parser in worker processes with the same time limit, the same attribution, a revisit of a parsed
    document not parsed again), in capture order."""
    from scrapy.http import Headers, Response

    from crawler.pipelines import attribute, store_report
    # the spider's own helpers: the document is looked at as the crawl looked at it
    from crawler.spiders.reports import _filename, _header, _headers, _is_html
    from parsers.record import FetchContext
    from storage.catalog import queries
    from storage.catalog.models import Capture
    from storage.objects import StoreUnavailable
    from storage.reader import CaptureError

    by_id = {agency.id: agency for agency in agencies}
    with catalog.reading() as session:
        rows = [row for row in queries.all_captures(session) if row.record_type in ("response", "revisit")
                and row.status is not None and (200 <= row.status < 300
                                                or (row.status == 304 and row.record_type == "revisit"))]
    crawled: dict[str, list] = {}
    parsed = _Parsed()
    submitted: set[int] = set()
    parser = _ParsePool()

    def crawled_in(run_id: str) -> list:
        """The agencies the run crawled (its settings name them): the crawl attributes among those."""
        if run_id not in crawled:
            with catalog.reading() as session:
                run = queries.get_run(session, run_id)
            named = (run.settings or {}).get("agencies") if run is not None else None
            crawled[run_id] = [by_id[agency_id] for agency_id in named or () if agency_id in by_id] or agencies
        return crawled[run_id]

    def store(row: Capture, record) -> None:
        agency_id = attribute(record, row.agency_id, crawled_in(row.run_id))
        if agency_id is not None and agency_id not in by_id:
            parsed.foreign += 1
            return
        store_report(catalog, row.id, record, agency_id, row.url)
        if record.error:
            parsed.errors += 1
        elif record.is_report:
            parsed.reports += 1
        else:
            parsed.others += 1

    try:
        for row in rows:
            if row.record_type == "revisit" and row.refers_to_capture_id in submitted:
                parsed.unchanged += 1
                continue
            try:
                capture = reader.read_row(row)
                # a 304 carries no headers of the document: the capture it confirms does
                served = reader.read(row.refers_to_capture_id) if row.status == 304 else capture
            except StoreUnavailable as exc:
                raise CommandError(f"cannot read the archive: {exc}") from exc
            except CaptureError as exc:
                print(f"xxgk reindex: {exc}", file=sys.stderr)
                parsed.unreadable += 1
                continue
            response = Response(row.url, status=200, headers=Headers(list(served.raw_headers)),
                                body=capture.payload)
            role = capture.metadata.get("role")
            if not (role in ("item", "attachment") or (role == "column" and not _is_html(response))):
                continue
            agency = by_id.get(row.agency_id)
            context = FetchContext(url=row.url, content_type=_header(response, "Content-Type"),
                                   headers=_headers(response), listing_title=capture.metadata.get("listing_title"),
                                   listing_date=capture.metadata.get("listing_date"), filename=_filename(response),
                                   level=agency.level if agency is not None else None)
            submitted.add(row.refers_to_capture_id or row.id)
            for done, record in parser.submit(row, capture.payload, context):
                store(done, record)
        for done, record in parser.drain():
            store(done, record)
    finally:
        parser.close()
    return parsed


class _ParsePool:
    """``PARSE_WORKERS`` processes; a parse past ``PARSE_TIMEOUT`` (or one that kills its worker) becomes a
    record carrying the error, as in the crawl, and the pool is started again for the others."""

    def __init__(self):
        from crawler.settings import PARSE_TIMEOUT, PARSE_WORKERS

        self.workers = max(1, PARSE_WORKERS)
        self.timeout = PARSE_TIMEOUT
        self.pending: deque = deque()     # (row, payload, context, future), oldest first
        self.pool = self._start()

    def _start(self):
        import multiprocessing
        import signal
        from concurrent.futures import ProcessPoolExecutor

        from crawler.processes import die_with_parent

        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=die_with_parent, initargs=(signal.SIGKILL,))

    def submit(self, row, payload: bytes, context) -> list:
        """Queue one document; returns (row, record) of those finished meanwhile. At most one parse per worker
        waits, so the time limit measures parsing, not queueing."""
        from crawler.pipelines import parse_in_worker

        self.pending.append((row, payload, context, self.pool.submit(parse_in_worker, payload, context)))
        return [self._next() for _ in range(len(self.pending) - self.workers)]

    def drain(self) -> list:
        return [self._next() for _ in range(len(self.pending))]

    def _next(self):
        from concurrent.futures import TimeoutError as FutureTimeout
        from concurrent.futures.process import BrokenProcessPool

        from parsers.record import ReportRecord

        row, _payload, context, future = self.pending.popleft()
        broken = True
        try:
            return row, future.result(timeout=self.timeout)
        except FutureTimeout:
            error = f"解析超时（超过 {self.timeout:g} 秒），已终止"
        except BrokenProcessPool as exc:
            error = f"解析进程意外退出：{exc}"
        except Exception as exc:  # noqa: BLE001 - e.g. a context that cannot be pickled: one record, not the rebuild
            error, broken = f"解析失败：{type(exc).__name__}: {exc}", False
        if broken:
            self._restart()
        return row, ReportRecord(title=context.listing_title, error=error)

    def _restart(self) -> None:
        """Kill the workers (a running parse cannot be cancelled otherwise) and send the waiting ones again."""
        from crawler.pipelines import parse_in_worker

        for process in list((getattr(self.pool, "_processes", None) or {}).values()):
            process.kill()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._start()
        self.pending = deque((row, payload, context, self.pool.submit(parse_in_worker, payload, context))
                             for row, payload, context, _future in self.pending)

    def close(self) -> None:
        for process in list((getattr(self.pool, "_processes", None) or {}).values()):
            process.kill()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _print_reindexed(rebuilt, parsed: _Parsed, location: str) -> None:
    spooled = f"（其中 {rebuilt.spooled} 个仍在本地缓存区，下次抓取时上传）" if rebuilt.spooled else ""
    print(f"已从存档 {location} 重建目录：")
    print(f"  运行 {rebuilt.runs}，WARC 段 {rebuilt.segments}{spooled}，捕获 {rebuilt.captures}")
    print(f"  抓取错误 {rebuilt.errors}，栏目覆盖记录 {rebuilt.coverage}")
    print(f"  报告 {parsed.reports}（另有非报告文档 {parsed.others}，解析出错 {parsed.errors}，"
          f"未变化的重复抓取 {parsed.unchanged}）")
    print("判定未保存：运行 `xxgk status --year Y` 重新计算。")
    for key, problem in rebuilt.damaged.items():
        print(f"xxgk reindex: {key} 已损坏，只读取了损坏处之前的记录：{problem}", file=sys.stderr)
    if rebuilt.unresolved:
        print(f"xxgk reindex: {rebuilt.unresolved} 条 revisit 记录找不到其原始记录，未编入索引", file=sys.stderr)
    if rebuilt.bad_notes:
        print(f"xxgk reindex: {rebuilt.bad_notes} 条元数据记录无法还原（见日志）", file=sys.stderr)
    if parsed.unreadable:
        print(f"xxgk reindex: {parsed.unreadable} 条捕获无法读取，未解析", file=sys.stderr)
    if parsed.foreign:
        print(f"xxgk reindex: {parsed.foreign} 份文档属于登记册之外的机关，未保存（用 --registry 指定抓取时的登记册）",
              file=sys.stderr)
