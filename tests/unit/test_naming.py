"""Names as an operator says them, and the docker run flags, on recorded snapshots.

tests/recorded/modes has every network mode (host, none, container:, multi-homed
with a port on 127.0.0.1, IPv6, macvlan); the demo is the lab. The flags are
checked against how scripts/lab and the modes recorder made those containers.
"""

from __future__ import annotations

from pathlib import Path

from netexplorer.cli import _summary
from netexplorer.correlate import correlate
from netexplorer.model import Container, Snapshot
from netexplorer.naming import (
    connect_commands,
    copy_text,
    netns_words,
    network_mode_name,
    run_flags,
)
from netexplorer.snapshot_io import load_snapshot, snapshot_to_dict
from netexplorer.ui.sources import demo_path

MODES = Path(__file__).resolve().parents[1] / "recorded" / "modes" / "healthy.snapshot.json"


def ct(snap: Snapshot, name: str) -> Container:
    return next(c for c in snap.containers if c.name == name)


def test_lab_containers_read_back_as_scripts_lab_made_them() -> None:
    snap = load_snapshot(demo_path())
    # scripts/lab: docker run --network nxlab --ip 172.30.0.2 -p 8080:80 ... web,
    # then docker network connect bridge web
    assert run_flags(ct(snap, "web"), snap.containers) == [
        "--network nxlab",
        "--ip 172.30.0.2",
        "-p 8080:80",
    ]
    assert connect_commands(ct(snap, "web")) == ["docker network connect bridge web"]
    assert run_flags(ct(snap, "db"), snap.containers) == ["--network nxlab", "--ip 172.30.0.3"]
    assert run_flags(ct(snap, "test1"), snap.containers) == []
    assert connect_commands(ct(snap, "test1")) == []


def test_every_network_mode_in_words_and_flags() -> None:
    snap = load_snapshot(MODES)
    host, none = ct(snap, "nxt-rec-host"), ct(snap, "nxt-rec-none")
    shared, multi = ct(snap, "nxt-rec-shared"), ct(snap, "nxt-rec-multi")
    assert netns_words(host, snap.containers) == "host network namespace"
    assert netns_words(none, snap.containers) == "no network"
    assert netns_words(shared, snap.containers) == "shares nxt-rec-multi's network namespace"
    assert netns_words(multi, snap.containers) is None
    assert network_mode_name(shared, snap.containers) == "container:nxt-rec-multi"
    assert run_flags(host, snap.containers) == ["--network host"]
    assert run_flags(none, snap.containers) == ["--network none"]
    assert run_flags(shared, snap.containers) == ["--network container:nxt-rec-multi"]
    flags = run_flags(multi, snap.containers)
    assert flags[0] == "--network nxt-rec-icc" and "-p 127.0.0.1:28080:80" in flags
    assert "docker network connect bridge nxt-rec-multi" in connect_commands(multi)


def test_an_owner_that_is_gone_is_named_by_its_short_id() -> None:
    snap = load_snapshot(MODES)
    shared = ct(snap, "nxt-rec-shared")
    others = [c for c in snap.containers if c.id != shared.netns_owner]
    assert network_mode_name(shared, others) == f"container:{shared.netns_owner[:12]}"
    assert "which is gone" in (netns_words(shared, others) or "")


def test_cli_text_names_the_sidecar_by_its_owner_and_says_modes_in_words() -> None:
    snap = load_snapshot(MODES)
    out = _summary(snap, correlate(snap))
    assert "container:nxt-rec-multi" in out
    assert "shares nxt-rec-multi's network namespace" in out
    assert "host network namespace" in out and "no network" in out
    assert "-@if?" not in out and "rules: 0" not in out.split("nxt-rec-host", 1)[1].split("\n")[0]
    assert "child of nxt-rec-p0 (no veth)" in out
    assert ct(snap, "nxt-rec-shared").netns_owner not in out


def test_json_has_the_owner_name_beside_its_id() -> None:
    snap = load_snapshot(MODES)
    doc = snapshot_to_dict(snap)
    shared = next(c for c in doc["containers"] if c["name"] == "nxt-rec-shared")
    assert shared["netns_owner"] == ct(snap, "nxt-rec-multi").id
    assert shared["netns_owner_name"] == "container:nxt-rec-multi"
    assert all(c["netns_owner_name"] is None for c in doc["containers"] if not c["netns_owner"])


def test_what_y_copies() -> None:
    snap = load_snapshot(demo_path())
    web = ct(snap, "web")
    assert copy_text(web) == web.id
    assert copy_text(web.endpoints[0]) in ("172.17.0.4", "172.30.0.2")
    assert copy_text(snap.rules[0]) == snap.rules[0].text
    veth = next(i for i in snap.interfaces if i.kind == "veth")
    assert copy_text(veth) == veth.name
    assert copy_text(object()) is None
