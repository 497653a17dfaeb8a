"""``netexplorer map`` and ``netexplorer path`` over several reads, on the recorded
two-node swarm (tests/recorded/swarm, one ``--snapshot`` per node): their output is
what the app shows with both nodes open (its joined read: the map screen's drawing
and far items, the path screen's hops), and names across hosts (``NAME@HOST``),
ambiguous names and a read that fails are said in words with the exit codes of the
README. The same command over two live ssh reads is in tests/integration/test_swarm.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from netexplorer.analysis import analyse
from netexplorer.cli import main
from netexplorer.correlate import correlate
from netexplorer.map.export import export
from netexplorer.map.model import build_map
from netexplorer.path.report import path_to_dict
from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.app import NetExplorerApp
from netexplorer.ui.messages import SnapshotReady
from netexplorer.ui.sources import NamedSource

from .helpers import WIDE, container, cursor_to, ready
from .test_map_screen import map_of, open_map
from .test_path_screen import open_path, path_of

SWARM = Path(__file__).resolve().parents[1] / "recorded" / "swarm"
TRUTH: dict[str, Any] = json.loads((SWARM / "truth.json").read_text())
NODE = {n: str(SWARM / f"node{n}.snapshot.json") for n in (1, 2)}
CONTAINER = {1: ("sw1", "10.200.0.11"), 2: ("sw2", "10.200.0.12")}


def both(first: int) -> list[str]:
    """``--snapshot`` for each node, ``first``'s read first."""
    return ["--snapshot", NODE[first], "--snapshot", NODE[3 - first]]


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def app_of(first: int) -> NetExplorerApp:
    """The app with both recorded nodes open as two hosts, ``first`` shown."""
    order = (first, 3 - first)
    sources = [NamedSource(lambda n=n: load_snapshot(NODE[n]), f"node{n}") for n in order]
    return NetExplorerApp(sources[0], hosts=sources)


async def both_open(pilot: Any, app: NetExplorerApp, first: int) -> None:
    await ready(pilot)
    app.post_message(SnapshotReady(analyse(load_snapshot(NODE[3 - first])), 1))
    await pilot.pause()


@pytest.mark.parametrize("first", [1, 2])
async def test_the_map_of_both_reads_is_the_apps_map_with_both_hosts_open(
    first: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Text: the drawing the app's map screen shows for the first node, its tunnel
    row going on into the other; json, dot and mermaid: the far vxlan and container
    the app's joined read names (its far items' keys and labels)."""
    app = app_of(first)
    async with app.run_test(size=WIDE) as pilot:
        await both_open(pilot, app, first)
        here = load_snapshot(NODE[first])
        await cursor_to(pilot, "containers", container(here, CONTAINER[first][0]).key)
        await open_map(pilot)
        drawn = map_of(app).view.drawing.text()
        assert app.links is not None
        far_labels = {k: v for k, v in app.links.labels.items() if k.startswith("far:")}
    code, text, err = cli(["map", *both(first)], capsys)
    assert (code, err) == (0, "")
    assert text == drawn
    name, address = CONTAINER[3 - first]
    assert f"═▶ node{3 - first}: vxlan0 ─▶ br0 ─▶ veth1 ─▶ {name} {address}" in text
    # json: the far vxlan and container are the app's far items, joined by a tunnel
    code, out, _ = cli(["map", "--format", "json", *both(first)], capsys)
    doc = json.loads(out)
    far_nodes = {n["id"]: n for n in doc["nodes"] if n["id"].startswith("far:")}
    assert far_nodes and set(far_nodes) <= set(far_labels)
    far_ct = next(k for k, v in far_labels.items() if v == f"{name} ({address}) on node{3 - first}")
    vxlan_truth = next(
        x["ifname"]
        for x in TRUTH[f"node{3 - first}"]["networks"]["nxoverlay"]["ip_link"]
        if x.get("linkinfo", {}).get("info_kind") == "vxlan"
    )
    tunnels = [e for e in doc["edges"] if e["kind"] == "tunnel" and e["to"] in far_nodes]
    assert any(
        far_nodes[e["to"]]["label"].startswith(f"node{3 - first}: {vxlan_truth}") for e in tunnels
    )
    assert any(e["to"] == far_ct and e["kind"] == "veth" for e in doc["edges"])
    # dot and mermaid carry the same far items (generated ids, host text escaped)
    for fmt in ("dot", "mermaid"):
        code, out, _ = cli(["map", "--format", fmt, *both(first)], capsys)
        assert code == 0
        assert f"node{3 - first}: {vxlan_truth} in " in out
        assert name in out and f"on node{3 - first}" in out


@pytest.mark.parametrize("first", [1, 2])
@pytest.mark.parametrize("dst", ["name", "address"])
async def test_the_path_across_both_reads_is_the_apps_path_with_both_hosts_open(
    first: int, dst: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``netexplorer path sw1 sw2`` (and to sw2's address) with both reads: the hops
    and the reply the app's path screen gives with both hosts open, whichever node's
    read is named first; named sw1@node1 -> sw2@node2."""
    src, _ = CONTAINER[1]
    far, far_ip = CONTAINER[2]
    app = app_of(1)
    async with app.run_test(size=WIDE) as pilot:
        await both_open(pilot, app, 1)
        await open_path(pilot, src, far_ip)
        shown = path_of(app).result
    assert shown is not None and shown.verdict == "delivered"
    target = far if dst == "name" else far_ip
    code, out, err = cli(["path", src, target, "--json", *both(first)], capsys)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    want = path_to_dict(shown)
    for field in ("packet", "hops", "reply", "verdict", "reply_verdict", "delivered_as"):
        assert doc[field] == want[field], field
    assert doc["source"] == f"{src}@node1"
    assert doc["destination"] == (f"{far}@node2" if dst == "name" else far_ip)
    assert (
        doc["hops"][-1]["title"] == f"on node2: delivered to {far} ({far_ip}) on overlay nxoverlay"
    )
    code, text, _ = cli(["path", src, target, *both(first)], capsys)
    assert (
        text.splitlines()[0] == f"{src}@node1 -> {doc['destination']}: icmp 10.200.0.11 -> {far_ip}"
    )


def test_a_name_two_hosts_hold_is_refused_with_the_candidates_then_named_by_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A third read holding sw1 too (node 1's read under another name): ``sw1`` is
    ambiguous (exit 4, both NAME@HOST forms listed); ``sw1@other`` picks it, and
    its path goes on into node 2 as node 1's does."""
    other = tmp_path / "other.snapshot.json"
    shutil.copyfile(NODE[1], other)
    reads = [*both(1), "--snapshot", str(other)]
    code, out, err = cli(["path", "sw1", "sw2", *reads], capsys)
    assert (code, out) == (4, "")
    assert err == (
        "netexplorer: 'sw1' is on several hosts: sw1@node1, sw1@other; name one as NAME@HOST\n"
    )
    code, out, err = cli(["path", "sw1@other", "sw2", *reads], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "sw1@other -> sw2@node2: icmp 10.200.0.11 -> 10.200.0.12"
    assert "on node2: delivered to sw2 (10.200.0.12) on overlay nxoverlay" in out
    code, _, err = cli(["path", "sw1@node9", "sw2", *reads], capsys)
    assert code == 4
    assert err == (
        "netexplorer: 'node9' in 'sw1@node9' is none of the hosts read: node1, node2, other\n"
    )
    code, _, err = cli(["path", "sw9", "sw2", *reads], capsys)
    assert code == 4 and "'sw9' is neither a container" in err
    assert {"sw1", "sw2"} <= set(err.rpartition("did you mean ")[2].rstrip("?\n").split(", "))


def test_a_read_that_fails_is_named_and_the_others_are_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One of three files unreadable: the map and the path of the two others are
    printed as without it, the file is named, the exit code is 4 (a file)."""
    missing = tmp_path / "gone.snapshot.json"
    code, alone, _ = cli(["map", *both(1)], capsys)
    code, text, err = cli(["map", *both(1), "--snapshot", str(missing)], capsys)
    assert (code, text) == (4, alone)
    assert str(missing) in err and err.count("\n") == 1
    code, out, err = cli(["path", "sw1", "sw2", "--snapshot", str(missing), *both(1)], capsys)
    assert code == 4 and str(missing) in err
    assert "on node2: delivered to sw2 (10.200.0.12) on overlay nxoverlay" in out


@pytest.mark.parametrize("fmt", ["text", "json", "dot", "mermaid"])
def test_one_read_is_as_before(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    """One ``--snapshot``: node 1's own map, its tunnel stopping at the peer node."""
    snap = load_snapshot(NODE[1])
    code, out, _ = cli(["map", "--format", fmt, "--snapshot", NODE[1]], capsys)
    assert code == 0 and out == export(build_map(snap, correlate(snap)), fmt)
    assert "far:" not in out and "node2:" not in out
    code, _, err = cli(["path", "sw1", "sw2", "--snapshot", NODE[1]], capsys)
    assert code == 4 and "'sw2' is neither a container" in err
