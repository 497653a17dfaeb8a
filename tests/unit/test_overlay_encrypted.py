"""An overlay's ``encrypted`` (``docker network create -d overlay --opt encrypted``)
shown wherever its driver and VNI are: the network's details, the overlay rows of the
bridges and interfaces panes, the map's bus title and tunnel. On the recorded
two-node swarm (tests/recorded/swarm), whose nxoverlay is not encrypted (its
``docker network inspect`` in truth.json has no ``encrypted`` option; nxsecure beside
it is), and on the same read with the option Docker records for an encrypted network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netexplorer.analysis import analyse
from netexplorer.correlate import correlate
from netexplorer.map.export import to_json
from netexplorer.map.layout import bus_title, tunnel_text
from netexplorer.map.model import build_map
from netexplorer.model import ENCRYPTED_OPTION, Network, Snapshot
from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.panes.bridges import overlay_rows
from netexplorer.ui.panes.details import describe
from netexplorer.ui.panes.interfaces import InterfacesPane

HERE = Path(__file__).resolve().parents[1] / "recorded" / "swarm"
TRUTH: dict[str, Any] = json.loads((HERE / "truth.json").read_text())
INSPECT: dict[str, Any] = TRUTH["node1"]["networks"]["nxoverlay"]["inspect"]


def read(encrypted: bool) -> tuple[Snapshot, Network]:
    snap = load_snapshot(HERE / "node1.snapshot.json")
    net = next(n for n in snap.networks if n.name == "nxoverlay")
    if encrypted:
        net.options[ENCRYPTED_OPTION] = ""  # what inspect's Options has for --opt encrypted
    return snap, net


def test_the_recorded_overlay_is_not_encrypted_as_docker_says() -> None:
    assert ENCRYPTED_OPTION not in (INSPECT.get("Options") or {})
    _, net = read(False)
    assert net.encrypted is False and net.vni is not None


def texts(encrypted: bool) -> dict[str, str]:
    snap, net = read(encrypted)
    result = analyse(snap)
    corr = correlate(snap)
    hmap = build_map(snap, corr)
    bus = next(b for b in hmap.buses if b.network == "nxoverlay")
    assert bus.tunnel is not None
    rows = overlay_rows(corr)
    iface_rows = InterfacesPane().rows(result)
    return {
        "details": describe(net.key, result).plain,
        "bridges": " | ".join(c.plain for row in rows.values() for c in row),
        "interfaces": " | ".join(c.plain for row in iface_rows.values() for c in row),
        "title": bus_title(bus),
        "tunnel": tunnel_text(bus.tunnel),
        "json": to_json(hmap),
    }


def test_an_encrypted_overlay_says_so_everywhere_its_vni_is_shown() -> None:
    _, net = read(True)
    t = texts(True)
    assert (
        f"VNI {net.vni}  attachable yes  encrypted yes (IPsec ESP between the nodes)"
        in (t["details"])
    )
    assert "nxoverlay (overlay, encrypted)" in t["bridges"]
    assert f"VNI {net.vni} IPsec -> 198.51.100.18" in t["bridges"]
    assert "nxoverlay (overlay, encrypted)" in t["interfaces"]
    assert "encrypted (IPsec)" in t["title"]
    assert t["tunnel"].endswith("in IPsec ESP")
    assert "encrypted (IPsec)" in t["json"]


def test_a_plain_overlay_says_it_is_not() -> None:
    _, net = read(False)
    t = texts(False)
    assert f"VNI {net.vni}  attachable yes  encrypted no" in t["details"]
    # the recording also holds the encrypted nxsecure (its own rows say so): only
    # nxoverlay's rows, title and tunnel are looked at
    assert "nxoverlay (overlay)" in t["bridges"] and "nxoverlay (overlay," not in t["bridges"]
    assert "nxoverlay (overlay," not in t["interfaces"]
    assert f"VNI {net.vni} IPsec" not in t["bridges"] + t["interfaces"]
    assert "IPsec" not in t["title"] + t["tunnel"]
