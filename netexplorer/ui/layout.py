"""Which layout a terminal size gets, and how tall each row of panes is.

From 100x30 every pane is on screen: Containers | Host interfaces above Bridge
ports | Rules, details across the bottom. Below that one pane at a time, with
tabs. From 200x60 the panes show their extra columns (MAC, MTU, counters) and
take their widths from their content: Containers | Rules above Host interfaces |
Bridge ports (the two widest tables, containers and interfaces, on different
rows), each row split where its panes' widths need (:func:`fit_columns`).
"""

from __future__ import annotations

#: at least this many columns and rows: all panes at once; below: one pane, tabs
WIDE_MIN = (100, 30)
#: at least this many columns and rows: every column of every pane
FULL_MIN = (200, 60)
#: rows a table pane needs beyond its rows: border above and below, header,
#: horizontal scrollbar
CHROME = 4
#: the least a row of panes is given: its chrome and two rows
MIN_ROWS = CHROME + 2
#: the least the details pane is given
DETAILS_MIN = 6


def is_wide(width: int, height: int) -> bool:
    return width >= WIDE_MIN[0] and height >= WIDE_MIN[1]


def is_full(width: int, height: int) -> bool:
    return width >= FULL_MIN[0] and height >= FULL_MIN[1]


def fit_heights(height: int, top: int, bottom: int) -> tuple[int, int, int]:
    """Heights of the top row of panes, the bottom row and the details, in ``height``.

    ``top`` and ``bottom`` are the rows of content of each row's longest pane.
    Each row takes what its content needs; when both do not fit above the details'
    least, the shorter takes what it needs (up to half) and the longer the rest,
    so a pane of four containers gives its spare lines to thirty rules. The
    details take what is left.
    """
    room = max(height - DETAILS_MIN, 2 * MIN_ROWS)
    need_top, need_bottom = top + CHROME, bottom + CHROME
    if need_top + need_bottom <= room:
        top_h, bottom_h = need_top, need_bottom
    elif need_top <= room // 2:
        top_h, bottom_h = need_top, room - need_top
    elif need_bottom <= room - room // 2:
        top_h, bottom_h = room - need_bottom, need_bottom
    else:
        top_h, bottom_h = room // 2, room - room // 2
    top_h, bottom_h = max(top_h, MIN_ROWS), max(bottom_h, MIN_ROWS)
    return top_h, bottom_h, max(height - top_h - bottom_h, 0)


def _split(width: int, left: int, right: int) -> int:
    """Where a row of ``width`` splits between panes needing ``left`` and ``right``
    columns: each gets what it needs and the spare is shared; when both do not fit,
    in proportion to their needs."""
    if left + right <= width:
        return left + (width - left - right) // 2
    return max(1, min(width - 1, width * left // max(1, left + right)))


def fit_columns(width: int, top: tuple[int, int], bottom: tuple[int, int]) -> tuple[str, bool]:
    """The full layout's grid columns (three, for ``grid-columns``) and whether the top
    row's left pane spans the first two (else the bottom row's left pane does).

    ``top`` and ``bottom`` are the widths the left and right pane of each row need.
    """
    split_top, split_bottom = _split(width, *top), _split(width, *bottom)
    low, high = sorted((split_top, split_bottom))
    high = max(high, low + 1)
    return f"{low} {high - low} 1fr", split_top > split_bottom
