"""The swarm ingress routing mesh on the panes, over the read recorded in the kernel
VM (tests/recorded/ingress): the mesh's rules in the rules pane, each led by its
namespace; ingress_sbox's IPVS service and real servers in the interfaces pane;
selecting a task marks its REDIRECT rule, the MARK rule of its port and its real
server."""

from __future__ import annotations

from pathlib import Path

from netexplorer.correlate import correlate
from netexplorer.ingress import mark_of, redirect_ports
from netexplorer.snapshot_io import load_snapshot

from .helpers import pane, running, search

RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "ingress" / "snapshot.json"


def _text(cells: list[object]) -> str:
    return " ".join(str(c) for c in cells)


async def test_mesh_rules_and_ipvs_are_listed_and_cross_linked() -> None:
    snap = load_snapshot(RECORDED)
    mesh = correlate(snap).mesh
    (svc,) = mesh.services
    task = next(ct for ct in snap.containers if ct.name.startswith("nxweb.1."))
    assert task.inside is not None
    redirect = next(r for r in task.inside.rules if redirect_ports(r) is not None)
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    mark = next(r for r in sbox.rules if mark_of(r) is not None and r.dport == "8081")
    (dest,) = [d for d in svc.dests if d.container_key == task.key]
    async with running(snap) as (app, pilot):
        rules = pane(app, "rules")
        interfaces = pane(app, "interfaces")
        # nat: the task's REDIRECT, led by the task's name
        assert _text(rules.full_rows[redirect.key]).startswith(f"[{task.name}] ")
        assert "ipvs FWM 0x100 rr" in _text(interfaces.full_rows[svc.key])
        assert "published 8081" in _text(interfaces.full_rows[svc.key])
        row = _text(interfaces.full_rows[dest.key])
        assert f"→ {dest.dest.address}:0" in row and task.name in row and "Masq" in row
        await search(pilot, task.name)
        assert app.selected == task.key
        assert redirect.key in set(rules.table.marked())
        assert {svc.key, dest.key} <= set(interfaces.table.marked())
        assert mark.key in app.related
        # mangle: ingress_sbox's MARK rule of the port, marked
        await pilot.press("4", "t")
        await pilot.pause()
        while rules.table_name != "mangle":
            await pilot.press("t")
            await pilot.pause()
        assert _text(rules.full_rows[mark.key]).startswith("[ingress_sbox] ")
        assert mark.key in set(rules.table.marked())
