"""Real report PDFs (and the blank template) parse to the facts recorded in their MANIFEST.tsv."""
from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest

from parsers import FetchContext, parse_document

CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def _manifest() -> list[dict[str, str]]:
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


ROWS = _manifest()
REPORTS = [row for row in ROWS if row["level"] != "n/a"]
TEMPLATES = [row for row in ROWS if row["level"] == "n/a"]


def _agency(cell: str) -> str:
    """'淮安市人民政府 (compiled by 淮安市人民政府办公室)' -> '淮安市人民政府'."""
    return cell.split("(")[0].strip()


def _creation_date(row: dict[str, str]) -> date | None:
    match = re.search(r"CreationDate (\d{4})-(\d{2})-(\d{2})", row["signing_date"] + " " + row["notes"])
    return date(*map(int, match.groups())) if match else None


def _parse(row: dict[str, str]):
    data = (CORPUS / row["filename"]).read_bytes()
    return parse_document(data, FetchContext(filename=row["filename"]))


def test_manifest_lists_files_that_exist():
    assert len(REPORTS) == 3 and len(TEMPLATES) == 1
    for row in ROWS:
        assert (CORPUS / row["filename"]).is_file()


@pytest.mark.parametrize("row", REPORTS, ids=[row["filename"] for row in REPORTS])
def test_real_pdf_gives_manifest_facts(row):
    record = _parse(row)
    assert record.error is None
    assert record.is_report, record.kind_reason
    assert record.agency == _agency(row["agency"])
    assert record.report_year == int(row["report_year"])
    assert record.format == row["format"]
    assert record.level == row["level"]
    assert record.signing_date is None  # MANIFEST: none of them carries a 落款 date
    assert not record.needs_ocr
    # the statistics tables are really read, not just the words around them
    new = record.tables["table3"]["rows"]["本年新收"]
    assert isinstance(new["总计"], int)
    assert isinstance(record.tables["table2"]["rows"]["行政处罚"]["本年处理决定数量"], int)


@pytest.mark.parametrize("row", REPORTS, ids=[row["filename"] for row in REPORTS])
def test_pdf_creation_date_is_weak_evidence(row):
    record = _parse(row)
    metadata_dates = [d for d in record.dates if d.source == "pdf_metadata"]
    assert metadata_dates, "CreationDate missing from the evidence"
    expected = _creation_date(row)
    if expected is not None:
        assert expected in {d.value for d in metadata_dates}
    # metadata is weak: a PDF alone has no publication date to speak of
    assert record.date_source != "signing"


@pytest.mark.parametrize("row", TEMPLATES, ids=[row["filename"] for row in TEMPLATES])
def test_blank_template_is_not_a_report(row):
    record = _parse(row)
    assert record.error is None
    assert not record.is_report
    assert record.kind == "format_document"
    assert record.kind_reason

