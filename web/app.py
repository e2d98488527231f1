"""The web UI: FastAPI + Jinja2, server-rendered in Simplified Chinese, no JavaScript, a JSON API behind every page.

``create_app(config)`` opens the existing catalog and the archive reader (it never creates a catalog and writes
nothing); ``xxgk serve`` runs it with uvicorn. Every page is registered together with its JSON twin under
``/api`` (``PAGES``), both served by the same data function, so the API always says what the page shows.
Archived bytes are only served under ``/raw/`` with a sandboxing CSP (``web.replay``), and pictures rendered from
them (``web.full_page``) with the same headers; every id in a URL is an integer or a name looked up in the catalog,
never a path. The paths are spelled here, in the route declarations,
and in ``web.urls``, which builds every link (the templates' global ``urls``).
"""
from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import jinja2
from sqlalchemy.exc import SQLAlchemyError
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.labels import reason_beside_status
from parsers.beijing import BEIJING, as_aware
from storage.archive import open_reader
from storage.config import Config
from storage.reader import CaptureCorrupt, CaptureError, CaptureMissing, CaptureReader
from storage.objects import ObjectStoreError, StoreUnavailable
from storage.screenshots import ShotError
from web import agency, captures, diff, exports, full_page, runs, search
from web import dashboard as board
from web import report as report_page
from web.chart import bar_chart
from web.context import BadInput, NotFound, WebContext, visible_text, web_context
from web.hosts import AllowedHosts
from web.methods import HeadAsGet
from web.labels import STATUS_LABELS
from web.replay import PDF_HEADERS, RAW_HEADERS, RawBody, content_disposition
from web.urls import Urls

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"

UI_HEADERS = {
    # the UI itself runs no script either: pages are plain HTML and CSS, archived HTML only in sandboxed frames
    "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; style-src 'self'; frame-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
}
# FastAPI's own documentation pages load Swagger UI / ReDoc scripts: they keep FastAPI's defaults
DOC_PATHS = ("/docs", "/docs/oauth2-redirect")


# ---------------------------------------------------------------- page data (one function per page and its API)

def dashboard_view(ctx: WebContext, year: str = "", level: str = "", region: str = "", status: str = "",
                   as_of: str = "", everyone: str = Query("", alias="all"),
                   page: int = Query(1, ge=1, le=board.MAX_PAGE)) -> dict[str, Any]:
    """总览：机关 × 报告年度的判定，含筛选、各状态数量、按年度的按时率与分页。

    给出 as_of（YYYY-MM-DD）时，显示截至该日 24:00 按当时存档计算的判定（只计算，不写入）。
    已导入注册表（xxgk agencies import）时只计入监测名单中的机构；all=1 计入全部机构。
    """
    flt = board.DashboardFilter.parse(year=year, level=level, region=region, status=status, everyone=everyone)
    day = board.parse_as_of(as_of)
    if day is not None:
        return board.dashboard_data_as_of(ctx.catalog, flt, day, page)
    with ctx.catalog.reading() as session:
        return board.dashboard_data(session, flt, page)


def agency_view(ctx: WebContext, agency_id: str) -> dict[str, Any]:
    """机关：各年度判定及其证据、全部报告、全部捕获与抓取错误。"""
    return agency.agency_data(ctx, agency_id)


def report_view(ctx: WebContext, report_id: int) -> dict[str, Any]:
    """报告：解析结果、日期证据、表二/表三/表四与勾稽错误、模板检查、正文与原始捕获。"""
    return report_page.report_data(ctx, report_id)


def captures_view(ctx: WebContext, url: str = "", page: int = Query(1, ge=1, le=board.MAX_PAGE)) -> dict[str, Any]:
    """某网址的全部捕获；不给网址时为存档中最新的捕获（分页）。"""
    return captures.captures_data(ctx, url, page)


def capture_view(ctx: WebContext, capture_id: int) -> dict[str, Any]:
    """单个捕获：索引信息、响应头、WARC 元数据、同一网址的其他捕获。"""
    return captures.capture_data(ctx, capture_id)


def diff_view(ctx: WebContext, a: int, b: int) -> dict[str, Any]:
    """同一网址两次捕获的正文差异。"""
    return diff.diff_data(ctx, a, b)


def search_view(ctx: WebContext, q: str = "", page: int = Query(1, ge=1, le=board.MAX_PAGE)) -> dict[str, Any]:
    """全文检索报告标题与正文（以空格分隔的每个词都须出现）。"""
    return search.search_data(ctx, q, page)


def runs_view(ctx: WebContext, page: int = Query(1, ge=1, le=board.MAX_PAGE)) -> dict[str, Any]:
    """抓取运行记录。"""
    return runs.runs_data(ctx, page)


def run_view(ctx: WebContext, run_id: str) -> dict[str, Any]:
    """单次运行：按类型与状态码的捕获数、抓取错误、WARC 段。"""
    return runs.run_data(ctx, run_id)


# (page path, its JSON twin, template, data function)
PAGES: list[tuple[str, str, str, Callable[..., dict[str, Any]]]] = [
    ("/", "/api/dashboard", "dashboard.html", dashboard_view),
    ("/agencies/{agency_id}", "/api/agencies/{agency_id}", "agency.html", agency_view),
    ("/reports/{report_id:int}", "/api/reports/{report_id:int}", "report.html", report_view),
    ("/captures", "/api/captures", "captures.html", captures_view),
    ("/captures/{capture_id:int}", "/api/captures/{capture_id:int}", "capture.html", capture_view),
    ("/diff", "/api/diff", "diff.html", diff_view),
    ("/search", "/api/search", "search.html", search_view),
    ("/runs", "/api/runs", "runs.html", runs_view),
    ("/runs/{run_id}", "/api/runs/{run_id}", "run.html", run_view),
]


# ---------------------------------------------------------------- the application

def create_app(config: Config | None = None, *, reader: CaptureReader | None = None,
               allowed_hosts: Iterable[str] | None = None) -> FastAPI:
    """The app over an existing archive. Without ``reader`` it opens one from ``config`` (default: the
    environment) and closes it on shutdown; CatalogMissing/CatalogError/ObjectStoreError say why it cannot.
    ``allowed_hosts``: the ``Host`` names it answers (``web.hosts``; ``xxgk serve`` always gives them); None
    answers any, for a caller that puts the app behind its own check."""
    owned = reader is None
    if reader is None:
        config = config or Config.from_env()
        reader = open_reader(config)
    context = WebContext(reader.catalog, reader, cache_dir=config.data_dir / "cache" if config is not None else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        if owned:
            reader.catalog.close()
            reader.store.close()

    # docs_url: our own /docs below; redoc_url: ReDoc would load its script and fonts from CDNs
    app = FastAPI(title="xxgk-watch", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="政府信息公开工作年度报告监测：按时判定、报告、存档捕获、全文检索与运行记录。"
                              "每个页面都有对应的 JSON 接口（/api/…）。")
    app.state.xxgk = context
    templates = _templates(context.urls)
    for path, api_path, template, view in PAGES:
        html_endpoint, api_endpoint = _endpoints(view, template, templates)
        app.add_api_route(path, html_endpoint, methods=["GET"], response_class=HTMLResponse, tags=["页面"],
                          name=f"{view.__name__}_page", include_in_schema=False)
        app.add_api_route(api_path, api_endpoint, methods=["GET"], tags=["API"], name=view.__name__,
                          summary=_first_line(view))
    _add_archive_routes(app)
    _add_export_routes(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _add_docs_route(app, context.urls)
    _add_error_handlers(app, templates)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        if request.url.path not in DOC_PATHS:
            for name, value in UI_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    app.add_middleware(HeadAsGet)
    if allowed_hosts is not None:
        app.add_middleware(AllowedHosts, hosts=allowed_hosts)   # outermost: a foreign Host reaches nothing
    return app


def _add_docs_route(app: FastAPI, urls: Urls) -> None:
    """Swagger UI for the JSON API, its scripts served from the swagger-ui-bundle package: no CDN, works offline."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="xxgk-watch API",
                                   swagger_js_url=urls.docs_asset("swagger-ui-bundle.js"),
                                   swagger_css_url=urls.docs_asset("swagger-ui.css"),
                                   swagger_favicon_url=urls.docs_asset("favicon-32x32.png"))


def _templates(urls: Urls) -> Jinja2Templates:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                                     undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    # every link of every template is built by ``urls`` (web.urls)
    environment.globals.update(urls=urls, bar_chart=bar_chart, status_names=STATUS_LABELS)
    environment.filters["when"] = moment_text
    environment.filters["beside_badge"] = reason_beside_status
    return Jinja2Templates(env=environment)


def _validation_text(error: Mapping[str, Any]) -> str:
    """A query value FastAPI refused, said in Chinese for the checks the routes use."""
    limits = error.get("ctx") or {}
    kind = error.get("type")
    shown = _shown_input(error.get("input"))
    if kind == "missing":
        return "缺少此参数"
    if kind in ("int_parsing", "int_from_float"):
        return f"应为整数，收到“{shown}”"
    if kind == "bool_parsing":
        return f"应为 1 或 0（true/false、yes/no、on/off），收到“{shown}”"
    if kind == "greater_than_equal":
        return f"应不小于 {limits.get('ge')}，收到 {shown}"
    if kind == "less_than_equal":
        return f"应不大于 {limits.get('le')}，收到 {shown}"
    if kind == "string_too_long":
        return f"过长（最多 {limits.get('max_length')} 个字符）"
    return "取值无效"


def _shown_input(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return visible_text(text[:100]) + ("…" if len(text) > 100 else "")


def moment_text(value: str | None) -> str | None:
    """An ISO timestamp as the UI's readers read it: Beijing time, ``2025-03-01 10:00:00`` (the column says
    北京时间). One without an offset is UTC, as the catalog and WARC keep them; the JSON API keeps the ISO text."""
    if not isinstance(value, str) or len(value) < 19 or value[10] != "T":
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return as_aware(moment).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _endpoints(view: Callable[..., dict[str, Any]], template: str, templates: Jinja2Templates):
    """The page endpoint and the API endpoint of one data function, with its parameters (bar ``ctx``)."""
    hints = typing.get_type_hints(view)
    parameters = [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints.get(name, str))
                  for name, parameter in inspect.signature(view).parameters.items() if name != "ctx"]
    context_parameter = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, default=Depends(web_context),
                                          annotation=WebContext)
    request_parameter = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)

    def api_endpoint(ctx: WebContext, **params: Any) -> dict[str, Any]:
        return view(ctx, **params)

    def html_endpoint(request: Request, ctx: WebContext, **params: Any):
        return templates.TemplateResponse(request, template, {"data": view(ctx, **params), "params": params})

    api_endpoint.__signature__ = inspect.Signature([*parameters, context_parameter])
    html_endpoint.__signature__ = inspect.Signature([request_parameter, *parameters, context_parameter])
    api_endpoint.__doc__ = view.__doc__
    return html_endpoint, api_endpoint


def _first_line(view: Callable) -> str:
    return (view.__doc__ or view.__name__).strip().splitlines()[0]


# ---------------------------------------------------------------- archived bytes

def _add_archive_routes(app: FastAPI) -> None:
    @app.get("/captures/latest", include_in_schema=False)
    def latest(url: str = "", view: str = "", ctx: WebContext = Depends(web_context)):
        """Redirect to the newest capture of a URL: its page, or with view=raw its bytes (links in archived HTML)."""
        capture_id = captures.latest_capture_id(ctx, url)
        target = ctx.urls.raw(capture_id) if view == "raw" else ctx.urls.capture(capture_id)
        return RedirectResponse(target, status_code=302)

    @app.get("/raw/{capture_id:int}", include_in_schema=False)
    def raw(capture_id: int, download: bool = False, ctx: WebContext = Depends(web_context)):
        body = captures.raw_of(ctx, capture_id, download=download)
        shown_as_pdf = body.kind == "pdf" and body.media_type == "application/pdf" and body.disposition == "inline"
        headers = {**(PDF_HEADERS if shown_as_pdf else RAW_HEADERS), "Content-Disposition": content_disposition(body),
                   "Cache-Control": "private, max-age=300"}
        return Response(body.body, media_type=body.media_type, headers=headers)

    @app.get("/captures/{capture_id:int}/full-page.jpg", include_in_schema=False)
    def full_page_image(capture_id: int, ctx: WebContext = Depends(web_context)):
        """整页截图: rendered from the archive on the first request (which waits for it), then cached."""
        image = full_page.full_page(ctx, capture_id)
        headers = {**RAW_HEADERS, "Content-Disposition": content_disposition(
            RawBody(image.jpeg, "image/jpeg", "inline", image.filename, "image")), "Cache-Control": "private, max-age=300"}
        return Response(image.jpeg, media_type="image/jpeg", headers=headers)


# ---------------------------------------------------------------- exports

def _add_export_routes(app: FastAPI) -> None:
    def chosen(year: str, level: str, region: str, status: str, everyone: str) -> board.DashboardFilter:
        return board.DashboardFilter.parse(year=year, level=level, region=region, status=status, everyone=everyone)

    def attachment(extension: str) -> dict[str, str]:
        return {"Content-Disposition": f"attachment; filename=\"xxgk-verdicts.{extension}\""}

    @app.get("/export.csv", tags=["导出"], summary="导出当前筛选的判定（CSV，UTF-8 带 BOM）")
    def export_csv(request: Request, year: str = "", level: str = "", region: str = "", status: str = "",
                   everyone: str = Query("", alias="all"), ctx: WebContext = Depends(web_context)):
        rows = board.export_rows(ctx.catalog, chosen(year, level, region, status, everyone), Urls.for_request(request))
        return StreamingResponse(exports.csv_chunks(rows), media_type="text/csv; charset=utf-8",
                                 headers=attachment("csv"))

    @app.get("/export.xlsx", tags=["导出"], summary="导出当前筛选的判定（XLSX）")
    def export_xlsx(request: Request, year: str = "", level: str = "", region: str = "", status: str = "",
                    everyone: str = Query("", alias="all"), ctx: WebContext = Depends(web_context)):
        flt = chosen(year, level, region, status, everyone)
        with ctx.catalog.reading() as session:
            count = board.export_count(session, flt)
        if count > exports.XLSX_MAX_ROWS:
            raise BadInput(f"筛选结果有 {count} 行，超过 XLSX 的 {exports.XLSX_MAX_ROWS} 行上限：请缩小筛选范围或导出 CSV")
        data = exports.xlsx_bytes(board.export_rows(ctx.catalog, flt, Urls.for_request(request)))
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers=attachment("xlsx"))

    @app.get("/export.json", tags=["导出"], summary="导出当前筛选的判定（JSON）")
    def export_json(request: Request, year: str = "", level: str = "", region: str = "", status: str = "",
                    everyone: str = Query("", alias="all"), ctx: WebContext = Depends(web_context)):
        flt = chosen(year, level, region, status, everyone)
        rows = board.export_rows(ctx.catalog, flt, Urls.for_request(request))
        return StreamingResponse(exports.json_chunks(rows, flt.params()), media_type="application/json",
                                 headers=attachment("json"))


# ---------------------------------------------------------------- errors

def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.endswith(".json")


def _add_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    def answer(request: Request, status: int, title: str, message: str, headers: Mapping[str, str] | None = None):
        if _wants_json(request):
            return JSONResponse({"error": title, "detail": message}, status_code=status, headers=headers)
        if request.url.path.startswith(("/raw/", "/static/")):
            return PlainTextResponse(f"{title}：{message}", status_code=status, headers=headers)
        return templates.TemplateResponse(request, "error.html", {"title": title, "message": message, "status": status},
                                          status_code=status, headers=headers)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return answer(request, 404, "未找到", str(exc))

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput):
        return answer(request, 400, "请求参数有误", str(exc))

    @app.exception_handler(CaptureError)
    async def unreadable(request: Request, exc: CaptureError):
        what = ("存档中找不到该捕获所在的 WARC 段" if isinstance(exc, CaptureMissing)
                else "该捕获的存档字节已损坏，与索引或摘要不符" if isinstance(exc, CaptureCorrupt)
                else "该捕获无法读取")
        return answer(request, 500, "存档读取失败", f"{what}；可运行 xxgk verify 检查存档（技术细节：{exc}）")

    @app.exception_handler(ObjectStoreError)
    async def store_down(request: Request, exc: ObjectStoreError):
        log.error("object store error on %s: %s", request.url.path, exc)
        what = "对象存储暂时无法访问" if isinstance(exc, StoreUnavailable) else "对象存储读取失败"
        return answer(request, 503, "存档暂时无法访问", f"{what}，请稍后再试；存档本身不受影响")

    @app.exception_handler(SQLAlchemyError)
    async def catalog_down(request: Request, exc: SQLAlchemyError):
        log.error("catalog error on %s: %s", request.url.path, exc)
        return answer(request, 503, "目录暂时无法访问", "目录数据库暂时无法访问，请稍后再试；存档本身不受影响")

    @app.exception_handler(ShotError)
    async def not_rendered(request: Request, exc: ShotError):
        return answer(request, 503, "整页截图生成失败", str(exc))

    @app.exception_handler(full_page.Busy)
    async def busy(request: Request, exc: full_page.Busy):
        return answer(request, 503, "整页截图生成失败", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = "；".join(f"{'.'.join(str(part) for part in error.get('loc', ())[1:]) or '参数'}："
                            f"{_validation_text(error)}" for error in exc.errors())
        return answer(request, 400, "请求参数有误", problems or "参数无效")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return answer(request, 404, "未找到", f"没有这个页面：{request.url.path}")
        if exc.status_code == 405:   # Allow (RFC 9110) kept from the exception: what the address does answer
            allowed = (exc.headers or {}).get("Allow", "GET")
            return answer(request, 405, "请求方法不受支持", f"此地址不接受 {request.method} 请求（可用：{allowed}）",
                          headers=exc.headers)
        return answer(request, exc.status_code, "请求无法处理", str(exc.detail), headers=exc.headers)
