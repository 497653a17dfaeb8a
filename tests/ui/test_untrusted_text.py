"""Host strings with Rich markup or escape sequences are shown literally, escapes made visible."""

from __future__ import annotations

from netexplorer.model import Snapshot
from netexplorer.ui.safe_text import escape_controls, plain, safe

from .helpers import NARROW, container, demo, pane, running, search, wiring

MARKUP = "[red]x[/red]"
ESCAPE = "\x1b[31mevil"
SHOWN_ESCAPE = "\\x1b[31mevil"


def test_escape_controls_makes_c0_del_c1_and_bidi_visible() -> None:
    assert escape_controls("a\x1b[31mb\x07\x7f\x9b\tc") == "a\\x1b[31mb\\x07\\x7f\\x9b\\x09c"
    assert escape_controls("ab\u202ecd") == "ab\\u202ecd"
    assert escape_controls("eth\udcff") == "eth\\xff"  # a byte kept by surrogateescape
    assert escape_controls("héllo [red]") == "héllo [red]"


def test_safe_never_interprets_markup() -> None:
    text = safe(MARKUP)
    assert text.plain == MARKUP
    assert not text.spans
    assert plain(None) == "-"


def hostile() -> Snapshot:
    """The recorded lab with hostile container, interface and rule text."""
    snap = demo()
    test1, test2 = container(snap, "test1"), container(snap, "test2")
    test1.name = MARKUP
    test2.name = ESCAPE
    test1.labels["[bold]label"] = ESCAPE
    veth = wiring(snap, test1.endpoints[0]).host_veth
    for iface in snap.interfaces:
        if iface.name == veth:
            iface.name = ESCAPE + "0"
    for br in snap.bridges:
        for port in br.ports:
            if port.name == veth:
                port.name = ESCAPE + "0"
    rule = next(r for r in snap.rules if r.table == "nat" and r.target == "MASQUERADE")
    rule.text += f' -m comment --comment "{MARKUP} \x1b]0;pwned\x07"'
    rule.comment = f"{MARKUP} \x1b]0;pwned\x07"
    return snap


async def test_hostile_names_render_literally_and_without_escape_bytes() -> None:
    snap = hostile()
    async with running(snap) as (app, pilot):
        containers = pane(app, "containers")
        names = {containers.table.cells(k)[0].plain for k in containers.table.keys}
        assert MARKUP in names
        assert SHOWN_ESCAPE in names
        interfaces = pane(app, "interfaces")
        iface_names = [interfaces.table.cells(k)[1].plain for k in interfaces.table.keys]
        assert any(n.startswith(SHOWN_ESCAPE + "0@if") for n in iface_names)
        rules = pane(app, "rules")
        await pilot.press("f")  # each rule's full text, its comment with it
        await pilot.pause()
        assert any(
            f'--comment "{MARKUP} \\x1b]0;pwned\\x07"' in rules.table.cells(k)[0].plain
            for k in rules.table.keys
        )
        await pilot.press("slash", *"[red]x", "enter")
        await pilot.pause()
        assert app.selected == container(snap, MARKUP).key
        details = str(app.details.body.render())
        assert MARKUP in details
        assert "[bold]label = " + SHOWN_ESCAPE in details
        screen = app.export_screenshot()
        assert "\x1b" not in screen
        assert "\x07" not in screen
        assert "[red]x[/red]" in screen
        assert "\\x1b[31mevil" in screen


async def test_hostile_names_in_the_narrow_layout_and_tab_labels() -> None:
    async with running(hostile(), NARROW) as (app, pilot):
        await search(pilot, "evil")
        screen = app.export_screenshot()
        assert "\x1b" not in screen
        assert SHOWN_ESCAPE in screen
