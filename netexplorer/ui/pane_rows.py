"""A table pane's rows for one analysis, made in the worker thread, not the UI's.

A pane's row builder (``TablePane.rows``) is a pure function of an analysis and
the pane's settings. :func:`make_rows` runs in the worker that analysed the read;
of the rows made for the previous read it keeps every row whose cells read the
same (compared here, cell by cell), so the table is handed the very same cell
lists for unchanged rows, and when nothing changed at all the very same mapping,
which the pane does not hand to its table again. The compact form (the columns
in its order; the table shortens long names) and the search index are made here
too, again only for the rows that changed. The UI thread then only applies the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text

from netexplorer.ui.search import SearchRow, search_row

#: model key -> the row's cells, in display order
Rows = dict[str, list[Text]]


@dataclass(frozen=True, eq=False)
class PaneRows:
    """What a table pane shows of one analysis. Nothing here is written after it is made."""

    #: what the rows were made from (``TablePane.inputs``: the read's lists, settings)
    inputs: tuple[object, ...]
    #: every column, nothing shortened
    full: Rows
    #: the compact form: the columns in the order a small terminal shows them
    compact: Rows
    #: every row as search compares it, in display order
    search: tuple[SearchRow, ...]


def same_text(a: Text, b: Text) -> bool:
    """Do two texts read and look the same (text, style and styled spans)?"""
    return a is b or (a.plain == b.plain and a.style == b.style and a.spans == b.spans)


def same_cells(a: Sequence[Text], b: Sequence[Text]) -> bool:
    """Do two rows read and look the same (each cell: :func:`same_text`)?"""
    return len(a) == len(b) and all(same_text(x, y) for x, y in zip(a, b, strict=True))


def make_rows(
    inputs: tuple[object, ...],
    rows: Rows,
    before: PaneRows | None,
    compact: Callable[[list[Text]], list[Text]],
) -> PaneRows:
    """``rows`` (every column), with each row that reads as in ``before`` replaced by
    before's own list, the compact form and the search rows made for the others.
    When no row changed and the order is the same, before's mappings are kept."""
    if before is None:
        return PaneRows(
            inputs,
            rows,
            {key: compact(cells) for key, cells in rows.items()},
            tuple(search_row(key, [c.plain for c in cells]) for key, cells in rows.items()),
        )
    old_full, old_compact = before.full, before.compact
    old_search = dict(zip(old_full, before.search, strict=True))
    full: Rows = {}
    short: Rows = {}
    search: list[SearchRow] = []
    changed = len(rows) != len(old_full)
    for key, cells in rows.items():
        old = old_full.get(key)
        if old is not None and (old is cells or same_cells(cells, old)):
            full[key], short[key] = old, old_compact[key]
            search.append(old_search[key])
        else:
            changed = True
            full[key], short[key] = cells, compact(cells)
            search.append(search_row(key, [c.plain for c in cells]))
    if not changed and list(full) == list(old_full):
        return PaneRows(inputs, old_full, old_compact, before.search)
    return PaneRows(inputs, full, short, tuple(search))
