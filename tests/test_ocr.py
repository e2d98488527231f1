"""OCR of scanned reports: a real report (seed 001, 临淄区卫生健康局 2022, with its real tables) is rendered to a
PDF, its pages rasterised as a scanner would deliver them (grey, slightly skewed and blurred, JPEG-compressed) and
wrapped in an image-only PDF. The parser must read it by OCR into the same facts the text layer gives: a report, its
year and agency, the table-3 totals, and the 勾稽 check on the OCR'd table finds the one number changed."""
from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image, ImageFilter

from demo.render import load_seed, render_pdf
from parsers import FetchContext, parse_document
from parsers.formats.ocr import OCR_OFF, OcrOptions, lines_from_boxes
from tests.test_seeds import seed001_with_one_number_changed

pytestmark = pytest.mark.slow


def _scanned(image: Image.Image, skew: float) -> Image.Image:
    page = image.convert("L").rotate(skew, resample=Image.BICUBIC, fillcolor=255).filter(ImageFilter.GaussianBlur(0.5))
    buffer = io.BytesIO()
    page.save(buffer, "JPEG", quality=70)
    return Image.open(io.BytesIO(buffer.getvalue()))


def _page_images(pdf: bytes, dpi: int = 150) -> list[Image.Image]:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil() for page in document]
    finally:
        document.close()


def _image_pdf(images: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return buffer.getvalue()


def _mixed_pdf(text_pdf: bytes, scanned_page: int) -> bytes:
    """The text-layer PDF with one page replaced by its scan (a report whose table page is an image)."""
    import pypdfium2

    target = pypdfium2.PdfDocument(text_pdf)
    scan = pypdfium2.PdfDocument(_image_pdf([_scanned(_page_images(text_pdf)[scanned_page - 1], 0.3)]))
    try:
        target.del_page(scanned_page - 1)
        target.import_pages(scan, index=scanned_page - 1)
        buffer = io.BytesIO()
        target.save(buffer)
        return buffer.getvalue()
    finally:
        scan.close()
        target.close()


def _table3_page(pdf: bytes) -> int:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return next(number for number, page in enumerate(document, start=1)
                    if "本机关不掌握相关政府信息" in page.get_textpage().get_text_range())
    finally:
        document.close()


@pytest.fixture(scope="module")
def changed_report() -> bytes:
    return render_pdf(seed001_with_one_number_changed())


@pytest.fixture(scope="module")
def text_layer_record(changed_report):
    return parse_document(changed_report, FetchContext(filename="r.pdf"), ocr=OCR_OFF)


def test_a_scanned_report_is_read_by_ocr_into_the_same_facts_and_its_broken_rule_found(changed_report,
                                                                                         text_layer_record):
    scan = _image_pdf([_scanned(image, skew) for image, skew in zip(_page_images(changed_report),
                                                                     (0.4, -0.3, 0.5, -0.2))])
    assert not parse_document(scan, FetchContext(filename="scan.pdf"), ocr=OCR_OFF).text.strip(), \
        "the fixture must carry no text layer"

    record = parse_document(scan, FetchContext(filename="scan.pdf"), ocr=OcrOptions(time_budget=300))

    assert record.text_source == "ocr" and not record.needs_ocr
    assert record.is_report and record.kind == "report"
    assert (record.agency, record.report_year, record.format) == ("临淄区卫生健康局", 2022, "2021")
    assert record.signing_date == date(2023, 1, 29)
    expected = text_layer_record.tables["table3"]["rows"]
    assert record.tables["table3"]["rows"]["总计"] == expected["总计"]
    assert record.tables["table3"]["rows"]["本年新收"] == expected["本年新收"]
    # 予以公开/自然人 2 -> 3: the OCR'd table breaks exactly the rules the text layer's table breaks
    rules = sorted((e.rule, e.where) for e in record.consistency_errors)
    assert rules == sorted((e.rule, e.where) for e in text_layer_record.consistency_errors)
    assert [rule for rule, _ in rules] == ["t3.col.total", "t3.row.total"]
    assert any("OCR" in warning for warning in record.warnings)


def test_a_report_whose_table_page_is_a_scan_gets_that_page_by_ocr(changed_report, text_layer_record):
    page = _table3_page(changed_report)
    mixed = _mixed_pdf(changed_report, page)
    unread = parse_document(mixed, FetchContext(filename="r.pdf"), ocr=OCR_OFF)
    assert "table3" not in unread.tables or unread.tables["table3"] != text_layer_record.tables["table3"]
    assert any(f"第 {page} 页没有文字层" in warning for warning in unread.warnings)

    record = parse_document(mixed, FetchContext(filename="r.pdf"))   # OCR is on by default

    assert record.text_source == "document+ocr"
    assert record.tables["table3"]["rows"]["总计"] == text_layer_record.tables["table3"]["rows"]["总计"]
    assert [e.rule for e in sorted(record.consistency_errors, key=lambda e: e.rule)] == ["t3.col.total",
                                                                                        "t3.row.total"]


def test_ocr_off_or_out_of_time_leaves_the_scan_unread_and_says_so():
    scan = _image_pdf([_scanned(_page_images(render_pdf(load_seed("001")))[0], 0.2)])
    off = parse_document(scan, FetchContext(filename="scan.pdf"), ocr=OCR_OFF)
    assert off.needs_ocr and off.text_source == "document" and not off.is_report
    assert "需要 OCR" in off.kind_reason

    none_allowed = parse_document(scan, FetchContext(filename="scan.pdf"), ocr=OcrOptions(max_pages=0))
    assert none_allowed.needs_ocr and any("OCR 只识别前 0 页" in w for w in none_allowed.warnings)


def test_an_image_file_is_read_by_ocr():
    page = _scanned(_page_images(render_pdf(load_seed("001")))[0], 0.0)
    buffer = io.BytesIO()
    page.save(buffer, "PNG")
    record = parse_document(buffer.getvalue(), FetchContext(filename="nb.png", content_type="image/png"))
    assert record.source_format == "image" and record.text_source == "ocr"
    assert record.is_report and record.report_year == 2022 and record.agency == "临淄区卫生健康局"


def test_a_broken_image_is_a_warning_not_a_crash():
    png = io.BytesIO()
    Image.new("L", (400, 300), 255).save(png, "PNG")
    record = parse_document(png.getvalue()[:120], FetchContext(filename="nb.png", content_type="image/png"))
    assert record.needs_ocr and not record.is_report and record.error is None
    assert any("无法解码" in warning for warning in record.warnings)


def test_fragments_of_one_row_become_one_tab_separated_line():
    def box(left, top, right, bottom):
        return [[left, top], [right, top], [right, bottom], [left, bottom]]

    result = [(box(300, 102, 330, 122), "12", 0.9), (box(10, 100, 200, 124), "（一）予以公开", 0.95),
              (box(10, 140, 200, 162), "（二）部分公开", 0.9), (box(300, 141, 330, 161), "3", 0.9),
              (box(400, 100, 430, 121), "0", 0.3)]   # under the score floor: dropped
    assert lines_from_boxes(result) == "（一）予以公开\t12\n（二）部分公开\t3"


class _ScanPortal:
    """One agency whose report column lists a scanned PDF (an image of seed 001's first page, no text layer)."""

    edition = 1
    answers_post = False
    LISTING = "/xxgk/ndbg/index.html"
    SCAN = "/xxgk/ndbg/P020230130_2022.pdf"

    def __init__(self):
        from demo.portals import Resource

        scan = _image_pdf([_scanned(_page_images(render_pdf(load_seed("001")))[0], 0.3)])
        listing = ('<html><head><meta charset="utf-8"><title>政府信息公开年报</title></head><body><ul class="list">'
                   f'<li><a href="{self.SCAN}">临淄区卫生健康局2022年政府信息公开工作年度报告</a>'
                   '<span>2023-01-30</span></li></ul></body></html>')
        self._site = {self.LISTING: Resource(200, listing.encode("utf-8"), "text/html; charset=utf-8"),
                      self.SCAN: Resource(200, scan, "application/pdf")}

    def site(self):
        return self._site

    def with_edition(self, edition):
        return self

    def resource(self, target: str, method: str = "GET", body: bytes = b""):
        return self._site.get(target.split("?")[0])

    def registry(self, base: str):
        from registry.agencies import Agency

        return [Agency(id="lz-wjj", name="临淄区卫生健康局", level="department", homepage=f"{base}/",
                       report_index=(f"{base}{self.LISTING}",), render="never")]


@pytest.mark.parametrize("ocr", [True, False])
def test_the_crawl_reads_a_scanned_report_in_its_parse_pool_unless_ocr_is_off(tmp_path, ocr):
    from demo.server import DemoServer
    from storage.catalog.models import Report
    from tests.crawling import catalog_of, config_in, crawl

    portal = _ScanPortal()
    config = config_in(tmp_path / "data")
    with DemoServer(portal) as server:
        # what is checked is that the pool runs OCR, not how fast: a loaded CI machine took past the 120 s default
        crawl(config, portal.registry(server.base_url), PARSE_OCR=ocr, PARSE_TIMEOUT=900, PARSE_OCR_TIME_BUDGET=600)
    with catalog_of(config) as session:
        report = session.query(Report).filter(Report.url.endswith(_ScanPortal.SCAN)).one()
        record = report.record_json
    if ocr:
        assert record["text_source"] == "ocr" and not report.needs_ocr
        assert report.is_report and report.report_year == 2022 and record["agency"] == "临淄区卫生健康局"
        assert "临淄区卫生健康局" in report.text
    else:
        assert report.needs_ocr and record["text_source"] == "document" and not report.text


def test_the_crawl_keeps_the_ocr_budget_inside_the_parse_timeout():
    from scrapy.settings import Settings

    from crawler.pipelines import ocr_options

    settings = Settings()
    settings.setmodule("crawler.settings")
    assert ocr_options(settings).time_budget == settings.getfloat("PARSE_OCR_TIME_BUDGET")
    settings.set("PARSE_TIMEOUT", 20)
    assert ocr_options(settings).time_budget == 15   # a long scan is read in part, not killed whole
    settings.set("PARSE_OCR", False)
    assert not ocr_options(settings).enabled
