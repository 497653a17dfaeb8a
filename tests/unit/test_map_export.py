"""``netexplorer map --format ...``: each format read back by a real parser.

dot goes through graphviz's ``dot -Tsvg`` (Debian's graphviz) and the SVG through
an XML parser; json through ``json.loads``; mermaid through mermaid's own parser
(the npm package, run in jsdom by tests/mermaid/parse.mjs; ``npm ci`` in
tests/mermaid, as .ci/run does). Host names that try to break out of each
format's quoting (a veth called ``a"b``, a rule comment holding ``]]``, newlines,
backslashes, control characters) come back as the same text.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from netexplorer.cli import main
from netexplorer.correlate import correlate
from netexplorer.literal import escape_controls
from netexplorer.map.export import graph, to_dot, to_json, to_mermaid
from netexplorer.map.model import HostMap, build_map
from netexplorer.model import Snapshot
from netexplorer.snapshot_io import load_snapshot

RECORDED = Path(__file__).resolve().parents[1] / "recorded"
MERMAID = Path(__file__).resolve().parents[1] / "mermaid"
HOSTILE_VETH = 'a"b\\n]]'
HOSTILE_CT = 'c"}]]|%%#9;<b>\nx`'
HOSTILE_COMMENT = '-m comment --comment "x]]\\" \\\\ end"'


def hostile() -> tuple[Snapshot, HostMap]:
    """The modes recording with host strings that break naive quoting."""
    snap = copy.deepcopy(load_snapshot(RECORDED / "modes" / "healthy.snapshot.json"))
    test1 = next(c for c in snap.containers if c.name == "test1")
    veth_index = correlate(snap).wiring(test1.endpoints[0]).host_ifindex
    veth = next(i for i in snap.interfaces if i.ifindex == veth_index)
    veth.name = HOSTILE_VETH
    test1.name = HOSTILE_CT
    dnat = next(r for r in snap.rules if r.target == "DNAT" and "--dport 8080" in r.text)
    dnat.text = dnat.text.replace(" -j DNAT", f" {HOSTILE_COMMENT}\n-j DNAT")
    return snap, build_map(snap, correlate(snap))


def test_json_nodes_and_edges() -> None:
    snap, hmap = hostile()
    doc = json.loads(to_json(hmap))
    g = graph(hmap)
    assert [n["label"] for n in doc["nodes"]] == [n.label for n in g.nodes]
    assert [(e["from"], e["to"], e["label"]) for e in doc["edges"]] == [
        (e.src, e.dst, e.label) for e in g.edges
    ]
    veths = [e for e in doc["edges"] if e["kind"] == "veth"]
    assert HOSTILE_VETH in {e["label"] for e in veths}
    test1 = next(c for c in snap.containers if c.name == HOSTILE_CT)
    assert {e["to"] for e in veths if e["from"] == test1.key} == {"br:docker0"}
    assert doc["egress"]["name"] == "eth0"


def needs(ok: bool, what: str) -> None:
    """A missing parser skips locally and fails on CI (which installs it)."""
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing on CI")
        pytest.skip(f"{what} is missing")


def test_dot_goes_through_graphviz() -> None:
    needs(shutil.which("dot") is not None, "graphviz's dot (apt-get install graphviz)")
    _, hmap = hostile()
    proc = subprocess.run(["dot", "-Tsvg"], input=to_dot(hmap), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "Error" not in proc.stderr, proc.stderr
    svg = ET.fromstring(proc.stdout)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    texts = [t.text or "" for t in svg.iterfind(".//svg:text", ns)]
    nodes = svg.findall(".//svg:g[@class='node']", ns)
    assert len(nodes) == len(graph(hmap).nodes)
    assert HOSTILE_VETH in texts  # dot's \n escape in the name stays literal text
    first, second = (escape_controls(p) for p in HOSTILE_CT.split("\n"))
    assert first in texts and second.startswith("x`")
    assert any('x]]\\" \\\\ end' in t for t in texts)


def mermaid_parse(text: str) -> dict[str, object]:
    proc = subprocess.run(
        ["node", str(MERMAID / "parse.mjs")], input=text, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def mermaid_available() -> bool:
    return shutil.which("node") is not None and (MERMAID / "node_modules" / "mermaid").is_dir()


def test_mermaid_goes_through_mermaids_parser() -> None:
    needs(mermaid_available(), "mermaid's parser (npm ci --prefix tests/mermaid)")
    _, hmap = hostile()
    g = graph(hmap)
    parsed = mermaid_parse(to_mermaid(hmap))
    assert parsed["type"] == "flowchart-v2"
    vertices = parsed["vertices"]
    assert isinstance(vertices, dict)
    expected = ["<br>".join(escape_controls(p) for p in n.label.split("\n")) for n in g.nodes]
    assert [vertices[f"n{i}"] for i in range(len(g.nodes))] == expected
    edges = parsed["edges"]
    assert isinstance(edges, list)
    assert [e[2] for e in edges] == ["<br>".join(e.label.split("\n")) for e in g.edges]
    assert HOSTILE_VETH in [e[2] for e in edges]


def swarm_node() -> HostMap:
    """A swarm node: overlays drawn with their vxlan, underlay and peer node."""
    snap = load_snapshot(RECORDED / "swarm" / "node1.snapshot.json")
    return build_map(snap, correlate(snap))


def test_a_swarm_nodes_dot_and_mermaid_parse() -> None:
    hmap = swarm_node()
    g = graph(hmap)
    assert {"vxlan", "peer"} <= {n.kind for n in g.nodes}
    needs(shutil.which("dot") is not None, "graphviz's dot (apt-get install graphviz)")
    proc = subprocess.run(["dot", "-Tsvg"], input=to_dot(hmap), capture_output=True, text=True)
    assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr
    assert proc.stdout.count('class="node"') == len(g.nodes)
    needs(mermaid_available(), "mermaid's parser (npm ci --prefix tests/mermaid)")
    vertices = mermaid_parse(to_mermaid(hmap))["vertices"]
    assert isinstance(vertices, dict) and len(vertices) == len(g.nodes)


def test_mermaid_labels_hold_only_safe_characters_and_entities() -> None:
    _, hmap = hostile()
    for line in to_mermaid(hmap).splitlines()[1:]:
        label = line.split('"')[1] if '"' in line else ""
        assert line.count('"') in (0, 2), line
        for ch in label.replace("<br>", ""):
            assert ch.isalnum() or ch in " .,:/@+=_-#;", line


def test_cli_writes_each_format(capsys: pytest.CaptureFixture[str]) -> None:
    demo = str(RECORDED / "lab" / "nft.snapshot.json")
    assert main(["--snapshot", demo, "map"]) == 0
    text = capsys.readouterr().out
    assert "veth059ad8d" in text and "MASQUERADE 172.17.0.0/16" in text
    assert main(["map", "--snapshot", demo, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["host"] == "vm"
    assert main(["map", "--snapshot", "/nonexistent.json", "--format", "dot"]) == 4
