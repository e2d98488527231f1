"""The one clock verdicts are judged by: today's date in Beijing, wherever the machine runs."""
from __future__ import annotations

from datetime import date, datetime

from parsers.beijing import BEIJING


def today() -> date:
    """A crawl at 23:30 UTC on 31 January is already judging 1 February: deadlines are Beijing days."""
    return datetime.now(BEIJING).date()
