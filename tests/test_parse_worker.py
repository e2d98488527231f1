"""A parse worker, as the crawl and `xxgk reparse` start it, parses and signs a report without importing the crawl."""
from __future__ import annotations

from crawler.parse_worker import parse_and_sign, start_pool, warm_parser
from demo.render import load_seed, render_html
from parsers.document import parse_document
from parsers.formats.ocr import OcrOptions
from parsers.record import FetchContext

# what a worker has no use for: each is tens of MB of imports in every worker
CRAWL_SIDE = {"scrapy", "twisted", "sqlalchemy", "alembic", "storage", "registry", "monitor", "playwright",
              "scrapy_playwright", "minio", "scipy", "redis"}   # (scipy and redis came with datasketch's package)


def test_a_worker_parses_and_signs_a_report_with_the_parsers_alone():
    page = render_html(load_seed("000"))
    context = FetchContext(url="http://127.0.0.1/xxgk/ndbg/1.html", content_type="text/html; charset=utf-8")
    pool = start_pool(1)
    try:
        assert pool.submit(warm_parser).result(timeout=120) is True
        record, (grams, signature) = pool.submit(parse_and_sign, page, context, OcrOptions()).result(timeout=120)
        loaded = pool.submit(eval, "sorted({name.split('.')[0] for name in __import__('sys').modules})").result()
    finally:
        pool.shutdown()
    here = parse_document(page, context, ocr=OcrOptions())
    from datasketch import MinHash  # noqa: F401 - here the whole package, as the judge loads it
    from parsers.shingles import text_signature

    assert (grams, signature) == text_signature(here.text)   # the MinHash module alone signs the same
    assert record.error is None and record.title == here.title and record.report_year == here.report_year
    assert record.report_year is not None and grams > 100 and len(signature) > 0
    assert "parsers" in loaded and "datasketch" in loaded
    assert sorted(CRAWL_SIDE & set(loaded)) == []
