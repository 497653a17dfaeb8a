"""KeyedTable keeps its column widths as rows change, without measuring every row again."""

from __future__ import annotations

import random

from rich.text import Text
from textual.app import App, ComposeResult

from netexplorer.ui.keyed_table import KeyedTable

COLUMNS = [("name", "Name"), ("count", "Count"), ("note", "N")]
CAPS = {"note": 12}


class Tables(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, CAPS, id="kept")
        yield KeyedTable(COLUMNS, CAPS, id="fresh")


def header(table: KeyedTable) -> str:
    return table.render_line(0).text


async def test_widths_follow_rows_that_grow_narrow_come_and_go() -> None:
    rng = random.Random(10)
    app = Tables()
    async with app.run_test(size=(120, 20)):
        kept = app.query_one("#kept", KeyedTable)
        fresh = app.query_one("#fresh", KeyedTable)
        rows: dict[str, list[Text]] = {}
        for step in range(200):
            key = f"k{rng.randrange(12)}"
            if key in rows and rng.random() < 0.3:
                del rows[key]
            else:
                rows[key] = [Text("x" * rng.randrange(1, 16)) for _ in COLUMNS]
            kept.sync(dict(rows))
            fresh.set_columns(COLUMNS, CAPS)  # forgets its rows: measures them all
            fresh.sync(dict(rows))
            assert kept.virtual_size == fresh.virtual_size, step
            assert header(kept) == header(fresh), step
