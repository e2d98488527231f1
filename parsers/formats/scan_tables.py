"""Ruled tables in a page image: the cell boxes from the drawn lines (OpenCV), the OCR fragments put into them.

Why the lines and not the text rows: in the standard tables a label often wraps over two or three lines while its
numbers sit on the middle one, and a fragment the OCR missed would shift every later cell of its row. Cells found
from the ruling keep each number in its column and row, as pdfplumber's grids do for a PDF's text layer.
"""
from __future__ import annotations

from typing import Callable

from parsers.formats.grids import make_grid
from parsers.record import Grid

_MIN_CELL = 12          # px: smaller holes in the ruling are specks or the gap between double lines
_EDGE_TOLERANCE = 10    # px: cell edges closer than this are the same column or row boundary
_INSET = 4              # px kept off a cell's ruling when it is read on its own
_MIN_INK = 20           # dark pixels: fewer is an empty cell (a speck), not a missed figure
_MAX_REREAD = 300       # cells read on their own per page at most
# A lone ring in a statistics cell is a zero: the Chinese models read a printed "0" standing alone as 。/○/O.
_LONE_ZERO = frozenset("。○〇OoΟ°")


def page_grids(gray, fragments, recognise: Callable[[object], str]) -> list[Grid]:
    """Grids of every ruled table in ``gray`` (a 2-D uint8 array, dark text on light paper); ``fragments`` are
    the OCR's (box, text, score) for the same image. A cell with ink but no fragment (detection misses lone
    figures such as a "0") is read on its own by ``recognise`` (an image crop in, its text out)."""
    import cv2

    tables = _cell_boxes(gray, cv2)
    if not tables:
        return []
    placed = [(_centre(box), text) for box, text, _ in fragments]
    budget = [_MAX_REREAD]

    def reread(cell) -> str:
        x0, y0, x1, y1 = cell
        crop = gray[y0 + _INSET:y1 - _INSET, x0 + _INSET:x1 - _INSET]
        if budget[0] <= 0 or crop.size == 0 or int((crop < 160).sum()) < _MIN_INK:
            return ""
        budget[0] -= 1
        return recognise(crop)

    grids = []
    for cells in tables:
        grid = make_grid(_rows(cells, placed, reread), "ocr")
        if grid:
            grids.append(grid)
    return grids


def _cell_boxes(gray, cv2) -> list[list[tuple[int, int, int, int]]]:
    """Per table (an outer contour of the ruling), its cells (the holes in it) as x0, y0, x1, y1."""
    height, width = gray.shape
    ink = cv2.adaptiveThreshold(255 - gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 15, -2)
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (width // 30, 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, height // 60)))
    ruling = cv2.dilate(horizontal | vertical, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    contours, hierarchy = cv2.findContours(ruling, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    tables: dict[int, list[tuple[int, int, int, int]]] = {}
    for index, (_, _, _, parent) in enumerate(hierarchy[0]):
        if parent < 0:
            continue   # an outer contour: the ruling itself
        x, y, w, h = cv2.boundingRect(contours[index])
        if w >= _MIN_CELL and h >= _MIN_CELL:
            tables.setdefault(parent, []).append((x, y, x + w, y + h))
    # a single hole is a framed box (a text frame, the page border), not a table; tables in reading order
    found = [cells for cells in tables.values() if len(cells) >= 4]
    return sorted(found, key=lambda cells: (min(cell[1] for cell in cells), min(cell[0] for cell in cells)))


def _centre(box) -> tuple[float, float]:
    xs = [point[0] for point in box]
    ys = [point[1] for point in box]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def _edges(values: list[int]) -> list[int]:
    merged: list[int] = []
    for value in sorted(values):
        if not merged or value - merged[-1] > _EDGE_TOLERANCE:
            merged.append(value)
    return merged


def _rows(cells: list[tuple[int, int, int, int]], placed, reread) -> list[list[str]]:
    """Slots = every distinct left edge × every distinct top edge; a merged cell fills every slot it covers."""
    texts = {cell: _as_figure(_cell_text(cell, placed) or reread(cell)) for cell in cells}
    lefts = _edges([cell[0] for cell in cells]) + [max(cell[2] for cell in cells)]
    tops = _edges([cell[1] for cell in cells]) + [max(cell[3] for cell in cells)]
    rows = []
    for top, bottom in zip(tops, tops[1:]):
        y = (top + bottom) / 2
        row = []
        for left, right in zip(lefts, lefts[1:]):
            x = (left + right) / 2
            covering = next((cell for cell in cells if cell[0] <= x <= cell[2] and cell[1] <= y <= cell[3]), None)
            row.append(texts[covering] if covering is not None else "")
        rows.append(row)
    return rows


def _as_figure(text: str) -> str:
    return "0" if text in _LONE_ZERO else text


def _cell_text(cell, placed) -> str:
    x0, y0, x1, y1 = cell
    inside = sorted(((y, x), text) for (x, y), text in placed if x0 <= x <= x1 and y0 <= y <= y1)
    return "".join(text for _, text in inside)
