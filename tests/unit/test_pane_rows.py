"""pane_rows.make_rows: unchanged rows are handed on as the very same lists."""

from __future__ import annotations

from rich.text import Text

from netexplorer.ui.pane_rows import Rows, make_rows, same_cells


def _rows(*pairs: tuple[str, str]) -> Rows:
    return {key: [Text(key), Text(value)] for key, value in pairs}


def _first(cells: list[Text]) -> list[Text]:
    return cells[:1]


def test_unchanged_rows_keep_their_lists_and_changed_rows_are_new() -> None:
    before = make_rows((), _rows(("a", "1"), ("b", "2")), None, _first)
    after = make_rows((), _rows(("a", "1"), ("b", "3"), ("c", "4")), before, _first)
    assert after.full["a"] is before.full["a"]
    assert after.compact["a"] is before.compact["a"]
    assert after.search[0] is before.search[0]
    assert after.full["b"] is not before.full["b"]
    assert [c.plain for c in after.full["b"]] == ["b", "3"]
    assert [c.plain for c in after.compact["c"]] == ["c"]
    assert [row.key for row in after.search] == ["a", "b", "c"]


def test_nothing_changed_keeps_the_mappings_themselves() -> None:
    before = make_rows((), _rows(("a", "1"), ("b", "2")), None, _first)
    again = make_rows((1,), _rows(("a", "1"), ("b", "2")), before, _first)
    assert again.full is before.full and again.compact is before.compact
    assert again.inputs == (1,)


def test_a_new_order_or_a_removed_row_is_a_change() -> None:
    before = make_rows((), _rows(("a", "1"), ("b", "2")), None, _first)
    reordered = make_rows((), _rows(("b", "2"), ("a", "1")), before, _first)
    assert list(reordered.full) == ["b", "a"] and reordered.full is not before.full
    removed = make_rows((), _rows(("a", "1")), before, _first)
    assert list(removed.full) == ["a"]


def test_a_restyled_cell_is_a_change() -> None:
    assert not same_cells([Text("x")], [Text("x", style="bold")])
    assert same_cells([Text("x", style="bold")], [Text("x", style="bold")])
