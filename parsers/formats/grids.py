"""Rows of cell text from any reader into a clean ``Grid``."""
from __future__ import annotations

from collections.abc import Iterable

from parsers.formats.textnorm import cell_text
from parsers.record import Grid


def make_grid(rows: Iterable[Iterable[str | None]], source: str) -> Grid | None:
    """A Grid with normalised cells, rows padded to one width and blank rows dropped.

    None when nothing tabular is left: a "table" whose every row holds one text (however many slots it
    spans) is a framed paragraph or a layout box.
    """
    cleaned = [[cell_text(cell or "") for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not any(len({cell for cell in row if cell}) >= 2 for row in cleaned):
        return None
    width = max(len(row) for row in cleaned)
    return Grid(rows=[row + [""] * (width - len(row)) for row in cleaned], source=source)
