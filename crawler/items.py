"""What the spider hands to the pipeline: a fetched document that may be a report, with what is known about it."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReportCandidate:
    """A report page or attachment as fetched (or confirmed unchanged by a 304), tied to its capture."""

    url: str
    agency_id: str | None           # the registry agency whose report column (or page) linked it
    capture_record_id: str          # WARC-Record-ID of this fetch's capture (a revisit when unchanged)
    payload_record_id: str          # of the capture holding the bytes: this one, or the original of a revisit
    body: bytes
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    listing_title: str | None = None
    listing_date: str | None = None
    filename: str | None = None
    level: str | None = None
    first_capture: bool = False     # no earlier capture of this URL in the archive: this 2xx is its first
    parsed_as_report: bool | None = None   # set by the parse pipeline; None: not parsed (or not stored)
    report_capture_id: int | None = None   # set by the parse pipeline: the capture its report row is tied to
    report_agency_id: str | None = None    # set by the parse pipeline: the agency the report row is attributed to
    source_format: str | None = None       # set by the parse pipeline: html | pdf | docx …, as the parser read it

    @property
    def unchanged(self) -> bool:
        """The archive already holds these exact bytes for this URL (a 304 or an identical payload)."""
        return self.payload_record_id != self.capture_record_id
