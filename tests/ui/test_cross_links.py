"""Which rows are marked after key presses, in every direction, on the recorded lab."""

from __future__ import annotations

from textual.widgets import Input

from netexplorer.snapshot_io import load_snapshot

from .helpers import (
    CHILDREN,
    NARROW,
    WIDE,
    container,
    cursor_to,
    demo,
    marked,
    pane,
    running,
    search,
    wiring,
)


def _masquerade(snap_text: str) -> str:
    return f"-A POSTROUTING -s {snap_text} ! -o "


async def test_search_test1_marks_its_veth_port_and_masquerade_rule() -> None:
    snap = demo()
    test1, test2 = container(snap, "test1"), container(snap, "test2")
    veth = wiring(snap, test1.endpoints[0]).host_veth
    async with running(snap) as (app, pilot):
        await search(pilot, "test1")
        assert app.selected == test1.key
        assert marked(app, "containers") == {"test1"}
        assert marked(app, "interfaces") == {veth}
        assert marked(app, "bridges") == {"docker0", veth}
        rules = marked(app, "rules")
        assert rules == {"-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"}
        assert wiring(snap, test2.endpoints[0]).host_veth not in marked(app, "interfaces")


async def test_container_with_published_port_marks_its_dnat_rule() -> None:
    async with running(demo()) as (app, pilot):
        await search(pilot, "web")
        rules = marked(app, "rules")
        assert any("-j DNAT --to-destination 172.17.0.4:80" in r for r in rules)
        assert any(r.startswith(_masquerade("172.17.0.0/16")) for r in rules)
        assert any(r.startswith(_masquerade("172.30.0.0/24")) for r in rules)


async def test_masquerade_rule_marks_every_container_on_the_default_bridge() -> None:
    snap = demo()
    rule = next(r for r in snap.rules if r.text.startswith(_masquerade("172.17.0.0/16")))
    async with running(snap) as (app, pilot):
        await cursor_to(pilot, "rules", rule.key)
        on_bridge = {
            c.name for c in snap.containers if any(ep.network == "bridge" for ep in c.endpoints)
        }
        assert {"test1", "test2", "web"} <= on_bridge
        assert marked(app, "containers") == on_bridge
        veths = {
            wiring(snap, ep).host_veth
            for c in snap.containers
            for ep in c.endpoints
            if ep.network == "bridge"
        }
        assert marked(app, "interfaces") == veths


async def test_bridge_marks_its_ports_and_their_containers() -> None:
    snap = demo()
    async with running(snap) as (app, pilot):
        await cursor_to(pilot, "bridges", "br:docker0")
        ports = {p.name for b in snap.bridges if b.name == "docker0" for p in b.ports}
        on_bridge = {
            c.name for c in snap.containers if any(ep.network == "bridge" for ep in c.endpoints)
        }
        assert len(ports) == len(on_bridge) > 2
        assert marked(app, "bridges") == {"docker0", *ports}
        assert marked(app, "containers") == on_bridge
        assert marked(app, "interfaces") == {"docker0", *ports}


async def test_veth_marks_its_container_and_bridge() -> None:
    snap = demo()
    ep = container(snap, "test2").endpoints[0]
    async with running(snap) as (app, pilot):
        await cursor_to(pilot, "interfaces", f"if:{wiring(snap, ep).host_ifindex}")
        assert marked(app, "containers") == {"test2"}
        assert marked(app, "bridges") == {"docker0", wiring(snap, ep).host_veth}


async def test_interface_of_multi_homed_container_marks_only_its_networks_rules() -> None:
    snap = demo()
    web = {ep.network: ep for ep in container(snap, "web").endpoints}
    async with running(snap) as (app, pilot):
        await cursor_to(pilot, "interfaces", f"if:{wiring(snap, web['nxlab']).host_ifindex}")
        assert marked(app, "containers") == {"web"}
        bridge = wiring(snap, web["nxlab"]).bridge
        assert bridge is not None
        assert marked(app, "rules") == {
            f"-A POSTROUTING -s 172.30.0.0/24 ! -o {bridge} -j MASQUERADE"
        }
        await cursor_to(pilot, "interfaces", f"if:{wiring(snap, web['bridge']).host_ifindex}")
        rules = marked(app, "rules")
        assert not any("172.30.0.0/24" in r for r in rules)
        assert any(r.startswith(_masquerade("172.17.0.0/16")) for r in rules)
        assert any("DNAT" in r for r in rules)


async def test_g_cycles_through_linked_items_keeping_the_selection() -> None:
    snap = demo()
    test1 = container(snap, "test1")
    async with running(snap, NARROW) as (app, pilot):
        await search(pilot, "test1")
        visits = []
        for _ in range(4):
            await pilot.press("g")
            await pilot.pause()
            visits.append((app.active_pane, pane(app, app.active_pane).table.cursor_key))
            assert app.selected == test1.key
        assert visits[0] == ("interfaces", f"if:{wiring(snap, test1.endpoints[0]).host_ifindex}")
        assert [v[0] for v in visits] == ["interfaces", "bridges", "bridges", "rules"]
        await pilot.press("g")  # wraps round to the first linked item
        await pilot.pause()
        assert (app.active_pane, pane(app, app.active_pane).table.cursor_key) == visits[0]
        await pilot.press("b")
        await pilot.pause()
        assert app.active_pane == "containers"
        assert pane(app, "containers").table.cursor_key == test1.key


async def test_focus_by_number_and_tab_in_narrow_layout() -> None:
    async with running(demo(), NARROW) as (app, pilot):
        assert app.query_one("#body").has_class("-narrow")
        await pilot.press("3")
        await pilot.pause()
        assert app.active_pane == "bridges"
        assert pane(app, "bridges").table.has_focus
        await pilot.press("tab")
        await pilot.pause()
        assert app.active_pane == "rules"
        await pilot.press("tab")
        await pilot.pause()
        assert app.active_pane == "details"
        assert app.details.scroller.has_focus


async def test_layout_follows_terminal_size() -> None:
    async with running(demo(), NARROW) as (app, pilot):
        assert app.query_one("#body").has_class("-narrow")
        await pilot.resize_terminal(*WIDE)
        await pilot.pause()
        assert app.query_one("#body").has_class("-wide")
        assert all(p.display for p in app.panes)


async def test_rules_table_toggle_shows_filter_rules() -> None:
    snap = demo()
    async with running(snap) as (app, pilot):
        rules = pane(app, "rules")
        nat = [r.key for r in snap.rules if r.table == "nat"]
        assert rules.table.keys == nat
        await pilot.press("t")
        await pilot.pause()
        assert rules.table.keys == [r.key for r in snap.rules if r.table == "filter"]
        assert "filter" in str(rules.border_title)


async def test_focusing_a_pane_keeps_the_selection() -> None:
    snap = demo()
    async with running(snap, NARROW) as (app, pilot):
        await pilot.press("slash", *"test2", "enter", "2", "3", "4", "tab")
        await pilot.pause()
        assert app.selected == container(snap, "test2").key
        assert marked(app, "interfaces") == {
            wiring(snap, container(snap, "test2").endpoints[0]).host_veth
        }


async def test_search_typed_in_one_burst_reaches_the_bar() -> None:
    """A terminal delivers "/test1<Enter>" in one read (fast typing, paste, tmux
    send-keys): the keys after "/" must land in the search bar, not in the pane
    bindings behind it (t, 1 and Enter are pane keys too)."""
    from textual import events

    snap = demo()
    async with running(snap) as (app, pilot):
        app.post_message(events.Key("slash", "/"))
        for ch in "test1":
            app.post_message(events.Key(ch, ch))
        app.post_message(events.Key("enter", "\r"))
        await pilot.pause()
        await pilot.pause()
        assert app.selected == container(snap, "test1").key
        assert marked(app, "containers") == {"test1"}


async def test_slash_inside_a_search_is_text() -> None:
    async with running(demo()) as (app, pilot):
        await pilot.press("slash", *"172.17.0.0", "slash", *"16")
        assert app.query_one("#search", Input).value == "172.17.0.0/16"


async def test_ipvlan_container_and_its_parent_interface_mark_each_other() -> None:
    snap = load_snapshot(CHILDREN)
    ipvlan = container(snap, "nxr-ipvlan-l31")
    parent = next(i for i in snap.interfaces if i.name == wiring(snap, ipvlan.endpoints[0]).parent)
    async with running(snap) as (app, pilot):
        await search(pilot, "nxr-ipvlan-l3")
        assert app.selected == ipvlan.key
        # no veth and no bridge port: the parent interface is the host end
        assert marked(app, "interfaces") == {parent.name}
        assert marked(app, "bridges") == set()
        details = str(app.details.body.render())
        assert f"ipvlan l3 child of host interface {parent.name} " in details
        assert f"MAC {parent.mac}" in details
        await cursor_to(pilot, "interfaces", parent.key)
        assert marked(app, "containers") == {"nxr-ipvlan-l31"}
        details = str(app.details.body.render())
        assert "parent of the ipvlan l3 interface of container nxr-ipvlan-l31" in details
