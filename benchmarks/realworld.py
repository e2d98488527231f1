"""Accuracy of the parser on real pages: every item of ``tests/realworld/`` through ``parse_document``, each field
compared with the truth written by reading the document (``tests/realworld/truth.jsonl``).

Run: .venv/bin/python benchmarks/realworld.py [--json] [--no-misses] [--via VIA] [--items GLOB]
     [--truth FILE [--items-dir DIR]]

``--via`` / ``--items`` score a subset (e.g. ``--via github-file``: the whole documents alone, the held-out
measurement); ``--truth`` scores another truth file, its items beside it in ``items/`` unless ``--items-dir`` says.

Report-or-not is scored over every item; report year, agency, level, format, signing date and publication date over
the reports whose truth gives that field (a field the document does not show is left out of the truth, not counted
as a miss). Targets are those of the issue (#9).
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from parsers import FetchContext, parse_document  # noqa: E402
from parsers.record import ReportRecord  # noqa: E402

CORPUS = ROOT / "tests" / "realworld"
TRUTH = CORPUS / "truth.jsonl"
ITEMS = CORPUS / "items"

# field -> target share (issue #9)
TARGETS = {
    "is_report": 0.97,
    "report_year": 0.99,
    "agency": 0.95,
    "level": 0.95,
    "format": 0.95,
    "signing_date": 0.98,
    "publication_date": 0.98,
}
FIELDS = tuple(TARGETS)
# A whole file's truth says null for a date it does not show; an excerpt's null may only mean "not reached".
WHOLE_FILE_VIAS = ("github-file",)
WHOLE_FILE_NULLS = ("signing_date", "publication_date")


@dataclass
class Miss:
    file: str
    field: str
    expected: Any
    got: Any


@dataclass
class FieldScore:
    field: str
    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None


@dataclass
class Result:
    scores: dict[str, FieldScore]
    misses: list[Miss] = field(default_factory=list)
    # dates the parser gives where a whole document (not an excerpt) shows none: not scored, listed
    unshown: list[Miss] = field(default_factory=list)
    items: int = 0
    reports: int = 0
    seconds: float = 0.0

    def accuracy(self, name: str) -> float | None:
        return self.scores[name].accuracy


def load_truth(path: Path = TRUTH) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def context_for(row: dict[str, Any]) -> FetchContext:
    """What a crawler would know: the page's address and content type (not the corpus file name, which is ours)."""
    source = row.get("source") or ""
    url = source if source.startswith(("http://", "https://")) else None
    return FetchContext(url=url, content_type=row.get("content_type") or None)


def parse_item(row: dict[str, Any], items: Path = ITEMS) -> ReportRecord:
    return parse_document((items / row["file"]).read_bytes(), context_for(row))


def _name(value: str | None) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value or ""))


def _agency_ok(row: dict[str, Any], got: str | None) -> bool:
    accepted = {_name(row["agency"])} | {_name(alt) for alt in row.get("agency_alt") or []}
    return bool(got) and _name(got) in accepted


def _value(record: ReportRecord, name: str) -> Any:
    value = getattr(record, name)
    return value.isoformat() if hasattr(value, "isoformat") else value


def score(rows: list[dict[str, Any]], items: Path = ITEMS) -> Result:
    scores = {name: FieldScore(name) for name in FIELDS}
    result = Result(scores=scores, items=len(rows))
    started = time.perf_counter()
    for row in rows:
        record = parse_item(row, items)
        expected_report = bool(row["is_report"])
        scores["is_report"].total += 1
        if record.is_report == expected_report:
            scores["is_report"].correct += 1
        else:
            result.misses.append(Miss(row["file"], "is_report", expected_report,
                                      f"{record.is_report} ({record.kind}: {record.kind_reason or record.error})"))
        if not expected_report:
            continue
        result.reports += 1
        for name in FIELDS[1:]:
            expected = row.get(name)
            if expected in (None, ""):
                if name in WHOLE_FILE_NULLS and row.get("via") in WHOLE_FILE_VIAS and getattr(record, name):
                    source = record.date_source if name == "publication_date" else "signing"
                    result.unshown.append(Miss(row["file"], name, None, f"{_value(record, name)} ({source})"))
                continue
            got = _value(record, name)
            ok = _agency_ok(row, got) if name == "agency" else str(got) == str(expected)
            scores[name].total += 1
            if ok:
                scores[name].correct += 1
            else:
                result.misses.append(Miss(row["file"], name, expected, got))
    result.seconds = time.perf_counter() - started
    return result


def select(rows: list[dict[str, Any]], via: list[str] | None = None,
           files: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows whose ``via`` is one of ``via`` and whose file name matches one of the ``files`` globs."""
    if via:
        rows = [row for row in rows if row.get("via") in via]
    if files:
        rows = [row for row in rows if any(fnmatch.fnmatch(row["file"], pattern) for pattern in files)]
    return rows


def measure(truth: Path = TRUTH, items: Path | None = None, via: list[str] | None = None,
            files: list[str] | None = None) -> Result:
    items = items if items is not None else truth.parent / "items"
    return score(select(load_truth(truth), via, files), items)


def _percent(value: float | None) -> str:
    return "   n/a" if value is None else f"{value * 100:5.1f}%"


def render(result: Result, misses: bool = True) -> str:
    lines = [f"real-world corpus: {result.items} items ({result.reports} reports, "
             f"{result.items - result.reports} look-alikes), parsed in {result.seconds:.1f} s", "",
             f"{'field':<18}{'accuracy':>9}{'correct':>9}{'of':>5}{'target':>8}  verdict"]
    for name in FIELDS:
        s = result.scores[name]
        verdict = "" if s.accuracy is None else ("ok" if s.accuracy >= TARGETS[name] else "BELOW TARGET")
        lines.append(f"{name:<18}{_percent(s.accuracy):>9}{s.correct:>9}{s.total:>5}"
                     f"{TARGETS[name] * 100:>7.0f}%  {verdict}")
    if result.unshown:
        lines += ["", f"dates given where the whole document shows none ({len(result.unshown)}, not scored):"]
        lines += [f"{m.file:<42}{m.field:<18}{m.got}" for m in result.unshown]
    if misses and result.misses:
        lines += ["", f"misses ({len(result.misses)}):", f"{'file':<42}{'field':<18}{'expected':<28}got"]
        for miss in sorted(result.misses, key=lambda m: (FIELDS.index(m.field), m.file)):
            lines.append(f"{miss.file:<42}{miss.field:<18}{str(miss.expected):<28}{miss.got}")
    return "\n".join(lines)


def to_json(result: Result) -> dict[str, Any]:
    return {
        "items": result.items,
        "reports": result.reports,
        "fields": {name: {"accuracy": s.accuracy, "correct": s.correct, "total": s.total, "target": TARGETS[name]}
                   for name, s in result.scores.items()},
        "misses": [m.__dict__ for m in result.misses],
        "unshown_dates": [m.__dict__ for m in result.unshown],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-misses", action="store_true", help="only the accuracy table")
    parser.add_argument("--via", action="append", metavar="VIA",
                        help="only items retrieved this way (pages-excerpt, github-file); repeatable")
    parser.add_argument("--items", action="append", metavar="GLOB", help="only items whose file matches; repeatable")
    parser.add_argument("--truth", type=Path, default=TRUTH, help="truth file (default: the corpus')")
    parser.add_argument("--items-dir", type=Path, help="where the truth file's items are (default: items/ beside it)")
    args = parser.parse_args(argv)
    result = measure(args.truth, args.items_dir, args.via, args.items)
    if not result.items:
        parser.error("no item matches")
    if args.json:
        print(json.dumps(to_json(result), ensure_ascii=False, indent=2, default=str))
    else:
        print(render(result, misses=not args.no_misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
