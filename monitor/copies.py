"""疑似雷同 at national scale: the reports worth an exact comparison, found by MinHash LSH over stored signatures.

The flag's rule is unchanged (``monitor.flags.copied``): a report is copied when at least half of its masked
5-grams (``parsers.shingles.fingerprint``) are in the agency's previous-year report or in another agency's report of
the same year. What changed is how the other report is found. Every report's MinHash signature is stored with it
(``parsers.shingles``), so a judge hashes no text to look; per report year, the chosen reports' signatures are cut
into ``BANDS`` bands of ``ROWS`` values, and two reports sharing one band are candidates (locality-sensitive
hashing). A candidate whose signatures estimate the containment below ``PREFILTER`` is dropped; the rest, and the
previous-year report when its estimate passes, are compared exactly, on their texts, as before.

Why these numbers: two texts of equal size sharing half of their 5-grams have a Jaccard similarity of 1/3; with 384
permutations in 128 bands of 3 such a pair shares a band with probability 1 − (1 − (1/3)³)¹²⁸ = 99.2 % (99.99 % at
Jaccard 0.45: 60 % shared), while unrelated reports (Jaccard ≈ 0.02 in the real-pages corpus, 0.10 at its 99th
percentile) share one with 0.1 % and 12 %. A copy whose source is more than twice its size is found less surely (the
Jaccard of such a pair is lower than its containment says). The prefilter keeps a pair when its estimated
containment is at least 0.4: 3.7 standard deviations of the 384-value estimate (0.027 at the threshold) below 0.5.
Unrelated reports sharing a band are common enough at national scale (about 135 per report when one pair in a
hundred has the real corpus's 99th-percentile Jaccard of 0.10) that the estimate is first made on 96 values.

datasketch makes the signatures; its ``MinHashLSH`` keeps a dict of byte-string keys per band, which for one year of
a national run (100,000 reports) took 2.8 GB and 47 s to fill here, so the bands are sorted numpy arrays instead
(about 100 MB, built in about a second) and every lookup of a year is one vectorised search.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from monitor import flags
from monitor.addresses import Addresses
from monitor.choosing import best_report, contested, printed_name
from parsers.shingles import NUM_PERM, SIGNATURE_BYTES, fingerprint, text_signature
from registry.agencies import names_agency
from storage.catalog.models import Agency, Capture, Report

BANDS, ROWS = 128, 3
PREFILTER = 0.4
# the signatures are compared on their first FIRST_LOOK values before all: a pair whose estimate from those is
# below ROUGH_FILTER (4.6 standard deviations under the 0.5 threshold) is not worth the rest
FIRST_LOOK, ROUGH_FILTER = 96, 0.25
# A band bucket shared by more reports than this is a template many copied: its first ones stand for it (sorted
# by report order), enough to find the copy, without a quadratic number of pairs.
MAX_BUCKET = 200
_QUERY_BATCH = 4000          # queries per vectorised lookup: bounds the candidate pairs held at once
_PAIR_BATCH = 50_000         # pairs per signature comparison: bounds the (pairs × NUM_PERM) temporary
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
# one salt per band (wrapping uint64 products): equal values in two bands make two different keys
_BAND_SALTS = np.arange(1, BANDS + 1, dtype=np.uint64) * np.uint64(0x27D4EB2F165667C5)


@dataclass
class Chosen:
    """An agency's report of a year as copy detection needs it (the one the verdict chooses)."""

    report_id: int
    agency_id: str
    report_year: int
    url: str
    capture_id: int
    date_source: str | None
    publication_date: date | None
    shingles: int | None
    signature: np.ndarray | None


def estimated_containment(mine: Chosen, other: Chosen) -> float:
    """Share of ``mine``'s 5-grams in ``other``'s, from the signatures and the exact 5-gram counts."""
    return float(_containment(np.count_nonzero(mine.signature == other.signature) / NUM_PERM,
                              mine.shingles, other.shingles))


def _distinct(codes: list[np.ndarray]) -> np.ndarray:
    """The distinct values, sorted (np.unique's hashing took most of a national year's lookup)."""
    if not codes:
        return np.zeros(0, dtype=np.int64)
    values = np.sort(np.concatenate(codes))
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def _containment(jaccard, mine, other):
    shared = jaccard * (mine + other) / (1 + jaccard)
    return shared / mine


class YearIndex:
    """The LSH bands of one year's signatures: every entry's key in every band. Looking up many entries (a full
    re-judge) sorts each band once; looking up a few (an incremental one) compares their keys with every key."""

    def __init__(self, entries: list[Chosen]):
        self.entries = entries
        size = len(entries)
        self.signatures = (np.stack([entry.signature for entry in entries]) if entries
                           else np.zeros((0, NUM_PERM), dtype=np.uint32))
        self.shingles = np.array([entry.shingles for entry in entries], dtype=np.float64)
        agencies = {agency: number for number, agency in enumerate(sorted({entry.agency_id for entry in entries}))}
        self.agency = np.array([agencies[entry.agency_id] for entry in entries], dtype=np.int64)
        self.keys = np.empty((BANDS, size), dtype=np.uint32)
        for band in range(BANDS):
            values = self.signatures[:, band * ROWS:(band + 1) * ROWS].astype(np.uint64)
            mixed = (values * _MIX).sum(axis=1, dtype=np.uint64) ^ _BAND_SALTS[band]
            self.keys[band] = (mixed >> np.uint64(32)).astype(np.uint32)
        self._sorted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _sorted_bands(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per band: the entries in key order, their keys, and which entries share their key with another."""
        if self._sorted is None:
            size = len(self.entries)
            order = np.argsort(self.keys, axis=1, kind="stable").astype(np.uint32)
            ordered = np.take_along_axis(self.keys, order.astype(np.int64), axis=1)
            same = ordered[:, 1:] == ordered[:, :-1]
            shared_sorted = np.zeros((BANDS, size), dtype=bool)
            shared_sorted[:, 1:] |= same
            shared_sorted[:, :-1] |= same
            shared = np.zeros((BANDS, size), dtype=bool)
            np.put_along_axis(shared, order.astype(np.int64), shared_sorted, axis=1)
            self._sorted = (order, ordered, shared)
        return self._sorted

    def _pairs(self, queries: np.ndarray, *, few: bool) -> np.ndarray:
        """(query, other) position pairs sharing a band key, as codes query × size + other. ``few``: look the
        entries with a query's key up among the queries' keys (sorted), instead of sorting every band."""
        size = len(self.entries)
        codes = []
        if few:
            for band in range(BANDS):
                keys = self.keys[band]
                by_key = np.argsort(keys[queries], kind="stable")
                asked = keys[queries][by_key]
                hits = np.flatnonzero(np.isin(keys, asked))     # the queries themselves among them
                left = np.searchsorted(asked, keys[hits], "left")
                counts = np.minimum(np.searchsorted(asked, keys[hits], "right") - left, MAX_BUCKET)
                within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
                mine = queries[by_key[np.repeat(left, counts) + within]]
                codes.append(mine * size + np.repeat(hits, counts))
            return _distinct(codes)
        order, ordered, shared = self._sorted_bands()
        for band in range(BANDS):
            asking = queries[shared[band, queries]]
            if not len(asking):
                continue
            keys = self.keys[band, asking]
            left = np.searchsorted(ordered[band], keys, "left")
            counts = np.minimum(np.searchsorted(ordered[band], keys, "right") - left, MAX_BUCKET)
            total = int(counts.sum())
            within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            others = order[band][np.repeat(left, counts) + within].astype(np.int64)
            codes.append(np.repeat(asking, counts) * size + others)
        return _distinct(codes)

    def candidates(self, positions: Iterable[int], *, both_ways: bool = False) -> dict[int, list[int]]:
        """For each entry position asked, the positions of other agencies' entries that share a band with it and
        whose estimated containment of it passes PREFILTER (``both_ways``: or its estimated containment of them,
        for whose flag may follow it)."""
        found: dict[int, list[int]] = {}
        wanted = np.fromiter(positions, dtype=np.int64)
        size = len(self.entries)
        few = len(wanted) * 20 < size   # an incremental re-judge: sorting every band would cost more
        for start in range(0, len(wanted), _QUERY_BATCH):
            pairs = self._pairs(wanted[start:start + _QUERY_BATCH], few=few)
            mine, other = pairs // size, pairs % size
            keep = self.agency[mine] != self.agency[other]   # the entry itself and its own agency's
            mine, other = mine[keep], other[keep]
            for first in range(0, len(mine), _PAIR_BATCH):
                a, b = mine[first:first + _PAIR_BATCH], other[first:first + _PAIR_BATCH]
                for width, bar in ((FIRST_LOOK, ROUGH_FILTER), (NUM_PERM, PREFILTER)):
                    jaccard = np.count_nonzero(self.signatures[a, :width] == self.signatures[b, :width],
                                               axis=1) / width
                    passed = _containment(jaccard, self.shingles[a], self.shingles[b]) >= bar
                    if both_ways:
                        passed |= _containment(jaccard, self.shingles[b], self.shingles[a]) >= bar
                    a, b = a[passed], b[passed]
                for query, candidate in zip(a.tolist(), b.tolist()):
                    found.setdefault(query, []).append(candidate)
        return found


class CopyChecks:
    """The 疑似雷同 result of each judged agency's chosen report of each year, computed a year at a time before the
    verdicts are (only one year's signatures and bands are held at once)."""

    def __init__(self, session, cutoff: datetime):
        self.session = session
        self.cutoff = cutoff
        self.results: dict[tuple[str, int], tuple[dict[str, Any] | None, str | None]] = {}
        self.years: set[int] | None = None
        self.neighbours: set[str] = set()
        self._neighbours_of: set[int] = set()
        self._names: dict[str, list[str]] = {}   # an agency's name, then its aliases

    def result(self, agency_id: str, year: int) -> tuple[dict[str, Any] | None, str | None]:
        """(evidence when copied, a note when the check was not made)."""
        return self.results.get((agency_id, year), (None, None))

    def checked(self, year: int) -> bool:
        """Whether ``prepare`` checked this year (an incremental re-judge checks only the years that changed)."""
        return self.years is None or year in self.years

    def prepare(self, agency_ids: set[str] | None, years: Iterable[int] | None = None,
                neighbours_of: Iterable[int] = ()) -> None:
        """Check every report year the agencies (None: all) have a report of by the cut-off, or only ``years``:
        a year's results can change only when a report of it, or of the year before, was stored since. On the
        way, ``neighbours`` gets the other agencies whose chosen report the index pairs with one of the reports
        ``neighbours_of`` (either way round): their 疑似雷同 may follow those."""
        self.years = None if years is None else set(years)
        self._neighbours_of = set(neighbours_of)
        query = (select(Report.report_year).join(Capture, Capture.id == Report.capture_id)
                 .where(Report.is_report.is_(True), Report.report_year.is_not(None), Report.agency_id.is_not(None),
                        Capture.timestamp <= self.cutoff).distinct())
        if agency_ids is not None and len(agency_ids) <= 10_000:  # a longer IN list costs more than it saves
            query = query.where(Report.agency_id.in_(sorted(agency_ids)))
        previous_year, previous = None, {}
        for year in sorted(self.session.scalars(query)):
            if not self.checked(year):
                continue
            chosen = self.chosen(year)
            if previous_year != year - 1:
                previous = self.chosen(year - 1, agency_ids)
            self._check_year(year, chosen, previous, agency_ids)
            previous_year, previous = year, chosen

    def chosen(self, year: int, agency_ids: set[str] | None = None) -> dict[str, Chosen]:
        """Each agency's (of ``agency_ids``, default all) report of ``year`` archived by the cut-off, chosen as
        the verdict chooses it."""
        query = (select(Report.id, Report.agency_id, Report.url, Report.capture_id, Report.date_source,
                        Report.publication_date, Report.shingles, Report.minhash,
                        Report.record_json["agency"].as_string().label("printed"),
                        Report.record_json["agency_source"].as_string().label("printed_source"))
                 .join(Capture, Capture.id == Report.capture_id)
                 .where(Report.is_report.is_(True), Report.report_year == year, Report.agency_id.is_not(None),
                        Capture.timestamp <= self.cutoff))
        if agency_ids is not None and len(agency_ids) <= 10_000:
            query = query.where(Report.agency_id.in_(sorted(agency_ids)))
        rows = self._own(self.session.execute(query).all())
        # one array for the year's signatures (a national year: 100,000 of them), each entry a row of it
        stored = [row for row in rows if row.minhash is not None and len(row.minhash) == SIGNATURE_BYTES]
        signatures = (np.frombuffer(b"".join(row.minhash for row in stored), dtype="<u4").astype(np.uint32)
                      .reshape(len(stored), NUM_PERM))
        signature_of = {row.id: signatures[number] for number, row in enumerate(stored)}
        grouped: dict[str, list[Chosen]] = {}
        for report_id, agency_id, url, capture_id, source, published, shingles, minhash, *_printed in rows:
            signature = signature_of.get(report_id)
            if signature is None and minhash is not None:
                shingles = None  # made another way: computed again below
            grouped.setdefault(agency_id, []).append(Chosen(report_id, agency_id, year, url, capture_id, source,
                                                            published, shingles, signature))
        # as the verdict chooses: among copies at several addresses, the one still online (a column that moved),
        # so that a flag names the source where a reader can open it; only those addresses' fetches are read
        addresses = Addresses(self.session, self.cutoff,
                              {copy.url for reports in grouped.values() for copy in contested(reports)})
        chosen = {agency_id: best_report(reports, offline=addresses.offline) for agency_id, reports in grouped.items()}
        unsigned = {entry.report_id: entry for entry in chosen.values() if entry.shingles is None}
        for report_id, text in self._texts(unsigned):
            count, minhash = text_signature(text)  # stored before signatures were: computed, not stored, here
            unsigned[report_id].shingles = count
            unsigned[report_id].signature = np.frombuffer(minhash, dtype="<u4") if minhash is not None else None
        return chosen

    def _check_year(self, year: int, chosen: dict[str, Chosen], previous: dict[str, Chosen],
                    agency_ids: set[str] | None) -> None:
        comparable = [entry for entry in chosen.values()
                      if entry.signature is not None and entry.shingles >= flags.MIN_SHINGLES]
        index = YearIndex(comparable)
        queries: list[int] = []
        for position, entry in enumerate(comparable):
            if agency_ids is None or entry.agency_id in agency_ids:
                queries.append(position)
        for entry in chosen.values():
            if (agency_ids is None or entry.agency_id in agency_ids) and (entry.shingles or 0) < flags.MIN_SHINGLES:
                self.results[(entry.agency_id, year)] = (
                    None, f"正文太短（{entry.shingles or 0} 个 5-gram），不做雷同比较")
        same_year = index.candidates(queries)
        news = [position for position, entry in enumerate(comparable) if entry.report_id in self._neighbours_of]
        if news:
            for others in index.candidates(news, both_ways=True).values():
                self.neighbours.update(comparable[other].agency_id for other in others)
        to_compare: dict[int, list[tuple[str, Chosen]]] = {}
        for position in queries:
            mine = comparable[position]
            others = []
            before = previous.get(mine.agency_id)
            if (before is not None and before.signature is not None and before.shingles >= flags.MIN_SHINGLES
                    and estimated_containment(mine, before) >= PREFILTER):
                others.append(("previous_year", before))
            # one address under two agencies (a county column listing a department's report) is one document
            others += [("same_year_other_agency", comparable[other]) for other in same_year.get(position, ())
                       if comparable[other].url != mine.url]
            if others:
                to_compare[position] = others
        self._compare(comparable, to_compare)

    def _compare(self, comparable: list[Chosen], to_compare: dict[int, list[tuple[str, Chosen]]]) -> None:
        """The exact comparison of each judged report with its candidates, on their texts."""
        needed = {entry.report_id: entry for position, others in to_compare.items()
                  for entry in [comparable[position], *(other for _relation, other in others)]}
        prints = {report_id: fingerprint(text) for report_id, text in self._texts(needed)}
        names = self._agency_names({other.agency_id for others in to_compare.values() for _r, other in others})
        for position, others in to_compare.items():
            mine = comparable[position]
            candidates = [flags.TextCandidate(relation, other.report_id, other.agency_id, names.get(other.agency_id),
                                              other.report_year, other.url, other.capture_id,
                                              prints.get(other.report_id, frozenset()))
                          for relation, other in others]
            found = flags.copied(prints.get(mine.report_id, frozenset()), candidates)
            if found is not None:
                self.results[(mine.agency_id, mine.report_year)] = (found, None)

    def _texts(self, wanted: dict[int, Any]) -> Iterable[tuple[int, str]]:
        ids = sorted(wanted)
        for start in range(0, len(ids), 500):
            yield from ((report_id, text or "") for report_id, text in self.session.execute(
                select(Report.id, Report.text).where(Report.id.in_(ids[start:start + 500]))))

    def _own(self, rows: list) -> list:
        """The rows of reports that are their agency's own, as the verdict counts them: a report found in the
        agency's column that prints another agency's name (a county column lists every department's) is neither
        the agency's report nor, as a copy of the other's own, a second agency's report of the same text."""
        printing = [row for row in rows if printed_name(row.printed, row.printed_source) is not None]
        names = self._known_names({row.agency_id for row in printing})
        foreign = {row.id for row in printing if not names_agency(row.printed, names[row.agency_id])}
        return [row for row in rows if row.id not in foreign] if foreign else rows

    def _known_names(self, agency_ids: set[str]) -> dict[str, list[str]]:
        """Each agency's name, then its aliases: what a report may print of it."""
        missing = sorted(agency_ids - set(self._names))
        for start in range(0, len(missing), 500):
            self._names.update((agency_id, [name, *(aliases or ())]) for agency_id, name, aliases in
                               self.session.execute(select(Agency.id, Agency.name, Agency.aliases)
                                                    .where(Agency.id.in_(missing[start:start + 500]))))
        return {agency_id: self._names.get(agency_id, []) for agency_id in agency_ids}

    def _agency_names(self, agency_ids: set[str]) -> dict[str, str | None]:
        return {agency_id: names[0] if names else None for agency_id, names in self._known_names(agency_ids).items()}
