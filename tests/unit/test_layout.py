"""Which layout a size gets and how the rows of panes share the height."""

from __future__ import annotations

from netexplorer.ui.layout import (
    CHROME,
    DETAILS_MIN,
    MIN_ROWS,
    fit_columns,
    fit_heights,
    is_full,
    is_wide,
)


def test_sizes() -> None:
    assert not is_wide(80, 24) and not is_wide(99, 40) and not is_wide(160, 29)
    assert is_wide(100, 30) and is_wide(120, 40)
    assert not is_full(160, 45) and not is_full(200, 59) and is_full(200, 60)


def test_rows_take_what_their_content_needs_and_details_the_rest() -> None:
    top, bottom, details = fit_heights(37, 12, 8)
    assert (top, bottom) == (12 + CHROME, 8 + CHROME)
    assert details == 37 - top - bottom


def test_a_short_row_gives_its_lines_to_a_long_one() -> None:
    top, bottom, details = fit_heights(40, 4, 30)
    assert top == 4 + CHROME
    assert bottom == 40 - DETAILS_MIN - top
    assert details == DETAILS_MIN


def test_two_long_rows_share_and_never_go_below_two_rows() -> None:
    top, bottom, details = fit_heights(27, 50, 50)
    assert abs(top - bottom) <= 1 and top + bottom + details == 27
    assert min(fit_heights(12, 50, 50)[:2]) >= MIN_ROWS


def test_fit_columns_gives_each_pane_what_it_needs_and_shares_the_spare() -> None:
    # top: 107 | 88 of 200, bottom: 126 | 61: the bottom's left pane is the wider
    columns, top_left_wide = fit_columns(200, (107, 88), (126, 61))
    assert (columns, top_left_wide) == ("109 23 1fr", False)


def test_fit_columns_in_proportion_when_a_row_does_not_fit() -> None:
    columns, top_left_wide = fit_columns(200, (150, 150), (50, 50))
    assert (columns, top_left_wide) == ("100 1 1fr", False)
    columns, top_left_wide = fit_columns(200, (160, 40), (60, 60))
    assert (columns, top_left_wide) == ("100 60 1fr", True)
