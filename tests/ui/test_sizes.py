"""At each real terminal size: what is on screen together, zoom, copy, help, monochrome.

"On screen" is read from the lines the tables render (``render_line``), i.e. what
the terminal shows after scrolling, not from the rows a table holds.
"""

from __future__ import annotations

import pytest

from netexplorer.naming import copy_text
from netexplorer.rule_summary import summary
from netexplorer.ui.app import NetExplorerApp
from netexplorer.ui.keyed_table import LINKED_GLYPH
from netexplorer.ui.layout import DETAILS_MIN
from netexplorer.ui.panes.base import KeyedTableWithJump

from .helpers import (
    app_over,
    assert_test1_wiring_on_screen,
    container,
    demo,
    marked_line,
    on_screen,
    pane,
    ready,
    running,
    search,
)


@pytest.mark.parametrize("size", [(100, 30), (120, 40)], ids=["100x30", "120x40"])
async def test_test1_its_veth_port_and_masquerade_on_screen_together(
    size: tuple[int, int],
) -> None:
    await assert_test1_wiring_on_screen(demo(), size)


async def test_every_dnat_destination_in_the_rules_pane_at_160x45() -> None:
    snap = demo()
    dnats = [r for r in snap.rules if r.table == "nat" and r.target == "DNAT"]
    assert dnats
    async with running(snap, (160, 45)) as (app, _):
        shown = on_screen(pane(app, "rules"))
        for rule in dnats:
            assert summary(rule) in shown
            assert rule.target_options["--to-destination"] in shown


async def test_below_100x30_one_pane_with_tabs_that_count_the_links() -> None:
    async with running(demo(), (99, 40)) as (app, pilot):
        await search(pilot, "test1")
        assert [p.pane_id for p in app.table_panes if p.display and p.size.height] == ["containers"]
        labels = {t.id: str(t.label) for t in app.query("Tab")}
        assert labels["tab-bridges"].endswith("●2")
        assert labels["tab-rules"].endswith("●1")


async def test_short_panes_give_their_rows_to_long_ones() -> None:
    snap = demo()
    snap.interfaces = [i for i in snap.interfaces if i.kind != "veth"]
    snap.namespaces = []
    async with running(snap, (120, 40)) as (app, _):
        containers, details = pane(app, "containers"), app.details
        # a few interfaces beside the containers, many rules below: the top row
        # takes what its longest pane needs...
        top = max(len(pane(app, p).table.keys) for p in ("containers", "interfaces"))
        assert top < 12 < len(pane(app, "rules").table.keys)
        assert containers.outer_size.height == top + 4  # rows, header, borders, scrollbar
        # ... and the rules below take the rest, the details their least
        assert pane(app, "rules").outer_size.height > containers.outer_size.height
        assert details.outer_size.height >= DETAILS_MIN


async def test_z_zooms_the_focused_pane_with_every_column_and_back() -> None:
    async with running(demo(), (120, 40)) as (app, pilot):
        interfaces = pane(app, "interfaces")
        assert "MAC" not in on_screen(interfaces)
        await pilot.press("2", "z")
        await pilot.pause()
        await pilot.pause()
        assert app.zoomed
        assert [p.pane_id for p in app.panes if p.display and p.size.height] == ["interfaces"]
        assert interfaces.size.height > 30
        assert "MAC" in on_screen(interfaces)
        for _ in range(len(interfaces.table.columns)):  # the last columns: scroll right
            if "MTU" in on_screen(interfaces):
                break
            await pilot.press("right")
            await pilot.pause()
        assert "MTU" in on_screen(interfaces)
        await pilot.press("z")
        await pilot.pause()
        await pilot.pause()
        assert not app.zoomed
        assert all(p.size.height for p in app.panes)
        assert "MAC" not in on_screen(interfaces)


async def test_200x60_shows_the_extra_columns() -> None:
    async with running(demo(), (200, 60)) as (app, _):
        # the panes' widths follow their content: every column of every pane is on
        # screen, none cut by the pane's edge
        for pane_id in ("containers", "interfaces", "bridges", "rules"):
            shown = on_screen(pane(app, pane_id))
            for _, label in pane(app, pane_id).table.columns:
                assert label in shown, (pane_id, label)
        assert "65536" in on_screen(pane(app, "interfaces"))  # lo's MTU, the last column


async def test_y_copies_the_item_under_the_cursor() -> None:
    snap = demo()
    async with running(snap, (120, 40)) as (app, pilot):
        await search(pilot, "test1")
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == container(snap, "test1").id
        await pilot.press("4")  # the rules pane: a rule's full text
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        rules = pane(app, "rules")
        key = rules.table.cursor_key
        rule = next(r for r in snap.rules if r.key == key)
        assert app.clipboard == rule.text == copy_text(rule)


async def test_y_writes_osc_52() -> None:
    """What reaches the terminal: the OSC 52 sequence with the text in base64."""
    import base64

    snap = demo()
    written: list[str] = []
    async with running(snap, (120, 40)) as (app, pilot):
        await search(pilot, "test1")
        driver = app._driver
        assert driver is not None
        original = driver.write
        driver.write = lambda data: (written.append(data), original(data))[1]  # type: ignore[method-assign]
        await pilot.press("y")
        await pilot.pause()
    encoded = base64.b64encode(container(snap, "test1").id.encode()).decode()
    assert f"\x1b]52;c;{encoded}\a" in written


async def test_f_shows_each_rules_full_text() -> None:
    snap = demo()
    async with running(snap, (160, 45)) as (app, pilot):
        rules = pane(app, "rules")
        masq = "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
        assert masq not in on_screen(rules)
        await pilot.press("f")
        await pilot.pause()
        assert masq in on_screen(rules)


async def test_help_lists_every_binding() -> None:
    async with running(demo(), (120, 50)) as (app, pilot):
        entries = app.key_help()
        keys = {k for k, _ in entries}
        for binding in [*NetExplorerApp.BINDINGS, *KeyedTableWithJump.BINDINGS]:
            assert app.get_key_display(binding.__class__(binding.key, "")) in keys  # type: ignore[union-attr]
        whats = [w for _, w in entries]
        assert all(whats) and "zoom the focused pane to the whole screen, and back" in whats
        await pilot.press("question_mark")
        await pilot.pause()
        shown = str(app.screen.query_one("Static").render())
        assert "zoom the focused pane" in shown and "OSC 52" in shown


async def test_no_color_marks_are_glyphs_and_bold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_over(demo())
    assert app.no_color
    async with app.run_test(size=(120, 40)) as pilot:
        await search(pilot, "test1")
        shown = on_screen(pane(app, "bridges"))
        assert marked_line(shown, "docker0")
        table = pane(app, "bridges").table
        key = next(k for k in table.marked() if k != app.selected)
        line = table.render_line(table.get_row_index(key) + 1 - int(table.scroll_y))
        words = [seg for seg in line if seg.text.strip()]
        assert words[0].text == LINKED_GLYPH
        assert all(seg.style is not None and seg.style.bold for seg in words)


async def test_themes_are_in_the_command_palette() -> None:
    app = app_over(demo())
    assert app.ENABLE_COMMAND_PALETTE
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert any("theme" in t.lower() for t in titles)


async def test_not_root_the_banner_is_one_line_with_the_command() -> None:
    from netexplorer.privilege import not_root_warning
    from netexplorer.snapshot_io import load_snapshot
    from netexplorer.ui.banner import Banner

    from .helpers import NO_ROOT

    snap = load_snapshot(NO_ROOT)
    snap.warnings[0] = not_root_warning(["/home/me/.local/bin/netexplorer"])
    async with running(snap, (160, 40)) as (app, _):
        shown = str(app.query_one(Banner).render()).splitlines()
        assert shown[0].startswith("⚠ not root:") and "Run: sudo " in shown[0]
        assert shown[1].startswith("… ") and "press w" in shown[1]
        assert len(pane(app, "interfaces").table.keys) > 0  # what a user can read


async def test_a_click_selects_the_row_and_the_wheel_scrolls() -> None:
    from textual.events import MouseScrollDown

    snap = demo()
    async with running(snap, (100, 30)) as (app, pilot):
        bridges = pane(app, "bridges")
        table = bridges.table
        row = int(table.scroll_y) + 1
        key = table.keys[row]
        # the header is line 0 of the table: the row is at line row + 1
        await pilot.click(table, offset=(4, row + 1 - int(table.scroll_y)))
        await pilot.pause()
        assert app.selected == key and table.has_focus
        interfaces = pane(app, "interfaces").table
        interfaces.scroll_home(animate=False)
        await pilot.pause()
        before = interfaces.scroll_y
        interfaces.post_message(MouseScrollDown(interfaces, 2, 2, 0, 0, 0, False, False, False))
        await pilot.pause()
        await pilot.pause()
        assert interfaces.scroll_y > before
