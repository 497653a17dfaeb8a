"""The map as a graph: nodes and edges, written as JSON, graphviz dot or mermaid.

Every host string (names, rule texts) is escaped for the format it goes into:
dot's double-quoted strings (backslash and quote escaped, controls made visible
first), mermaid's quoted labels (everything but plain letters, digits and a few
safe signs written as ``#<code>;`` entities) and JSON (the json module).
Node ids in dot and mermaid are generated (``n0``, ``n1``...): host strings never
become ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from netexplorer.literal import escape_controls
from netexplorer.map.layout import (
    bus_title,
    draw,
    mesh_task_text,
    mesh_text,
    nat_text,
    peer_text,
    tunnel_text,
)
from netexplorer.map.model import BRIDGE, HOST_KEY, INTERNET_KEY, OVERLAY, CtNode, Egress, HostMap
from netexplorer.overlay_peers import FarEnd


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    #: network, container, nat, interface, dnat, internet, host, vxlan, peer, mesh
    #: (ingress_sbox with its IPVS service)
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class Edge:
    src: str
    dst: str
    #: veth, child, parent, nat, egress, dnat, published, sidecar, host, vxlan
    #: (overlay -> its vxlan), underlay (vxlan -> interface), tunnel (-> peer node),
    #: mesh (a mesh port's DNAT -> ingress_sbox), ipvs (ingress_sbox -> a task)
    kind: str
    label: str = ""
    #: the model key of what the edge stands for (a veth: if:<ifindex>)
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def _container_label(ct: CtNode) -> str:
    lines = [ct.name + ("" if ct.state == "running" else f" ({ct.state})")]
    lines += [f"{lk.inside} {' '.join(lk.addresses)}".rstrip() for lk in ct.links]
    return "\n".join(lines)


def graph(hmap: HostMap) -> Graph:
    """Nodes and edges of the map, in a fixed order."""
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []

    def node(key: str, kind: str, label: str) -> None:
        nodes.setdefault(key, Node(key, kind, label))

    for bus in hmap.buses:
        node(bus.key, "network", bus_title(bus))
        t = bus.tunnel
        if t is not None:
            node(t.vxlan_key, "vxlan", tunnel_text(t))
            edges.append(Edge(bus.key, t.vxlan_key, "vxlan"))
            carrier = t.vxlan_key
            if t.underlay_key is not None and t.underlay is not None:
                node(t.underlay_key, "interface", t.underlay)
                edges.append(Edge(t.vxlan_key, t.underlay_key, "underlay", f"UDP {t.port}"))
                carrier = t.underlay_key
            for ip, name in t.peers:
                ends = [e for e in t.far if e.vtep == ip and e.vxlan_key is not None]
                if not ends:
                    node(f"map:peer:{ip}", "peer", peer_text(ip, name))
                    edges.append(Edge(carrier, f"map:peer:{ip}", "tunnel", f"VNI {t.vni}"))
                for end in ends:
                    _far_end(end, carrier, f"VNI {t.vni} to {peer_text(ip, name)}", node, edges)
        if bus.kind not in (BRIDGE, OVERLAY) and bus.device_key is not None:
            node(bus.device_key, "interface", bus.device)
            edges.append(Edge(bus.key, bus.device_key, "parent", "parent"))
        for s in bus.nat:
            node(s.key, "nat", nat_text(s.target, s.text, s.family, s.packets, s.delta_packets))
            edges.append(Edge(bus.key, s.key, "nat"))
            egress = hmap.egress6 if s.family == "ipv6" else hmap.egress
            if egress is not None and egress.key is not None:
                node(egress.key, "interface", egress.name)
                edges.append(Edge(s.key, egress.key, "egress"))
    for egress in (hmap.egress, hmap.egress6):
        if egress is not None and egress.key in nodes:
            node(INTERNET_KEY, "internet", "internet")
            edges.append(Edge(egress.key, INTERNET_KEY, "egress"))
    if hmap.host_containers:
        node(HOST_KEY, "host", f"host {hmap.host}".rstrip())
    for ct in (*hmap.containers, *hmap.host_containers, *hmap.alone, *hmap.orphans):
        node(ct.key, "container", _container_label(ct))
        for lk in ct.links:
            kind = "veth" if lk.label_key is not None or "veth" in lk.label else "child"
            edges.append(Edge(ct.key, lk.bus_key, kind, lk.label, lk.label_key))
        for car in ct.sidecars:
            node(car.key, "container", car.name)
            edges.append(Edge(car.key, ct.key, "sidecar", "shares its netns"))
        for p in ct.ports:
            host_key = p.host_if_key or f"map:host-ip:{p.host_ip}"
            node(host_key, "interface", p.host_if)
            port = f"{p.host_ip}:{p.host_port}/{p.protocol} -> {p.container_port}"
            if p.rule_key is not None:
                node(p.rule_key, "dnat", p.rule_text or "DNAT")
                edges.append(Edge(host_key, p.rule_key, "published", port))
                edges.append(Edge(p.rule_key, ct.key, "dnat", f":{p.container_port}"))
            else:
                edges.append(Edge(host_key, ct.key, "published", f"{port} (no DNAT rule)"))
        if ct.mode == "host":
            edges.append(Edge(ct.key, HOST_KEY, "host", "host network"))
    for m in hmap.mesh:
        node(HOST_KEY, "host", f"host {hmap.host}".rstrip())
        node(m.dnat_key, "dnat", mesh_text(m))
        edges.append(Edge(HOST_KEY, m.dnat_key, "published", f"*:{m.port}/{m.protocol} (mesh)"))
        if m.sbox_key is None or m.sbox is None:
            continue
        node(m.sbox_key, "mesh", f"{m.sbox}" + (f"\nIPVS {m.service}" if m.service else ""))
        mark = f"MARK {m.mark:#x}" if m.mark else ""
        edges.append(Edge(m.dnat_key, m.sbox_key, "mesh", mark, m.mark_key))
        for task in m.tasks:
            key = task.key or f"map:mesh-task:{task.address}"
            node(key, "container", task.name)
            edges.append(Edge(m.sbox_key, key, "ipvs", mesh_task_text(task), task.redirect_key))
    return Graph(tuple(nodes.values()), tuple(edges))


def _far_end(
    end: FarEnd,
    carrier: str,
    label: str,
    node: Callable[[str, str, str], None],
    edges: list[Edge],
) -> None:
    """A tunnel ending on another host being explored: the edge to its vxlan there,
    then from that vxlan to each container the FDB sends there (by br0 and its veth)."""
    assert end.vxlan_key is not None
    far_vxlan = end.key(end.vxlan_key)
    node(far_vxlan, "vxlan", f"{end.host}: {end.vxlan} in {end.namespace}")
    edges.append(Edge(carrier, far_vxlan, "tunnel", label))
    for m in end.members:
        ct = end.key(m.container_key)
        node(ct, "container", f"{m.name}\n{m.address}\non {end.host}")
        via = f"{end.bridge or 'br0'} · {m.port or 'no veth found'}"
        port = end.key(m.port_key) if m.port_key is not None else None
        edges.append(Edge(far_vxlan, ct, "veth", via, port))


# ------------------------------------------------------------------ json
def _egress_json(egress: Egress | None) -> dict[str, str | None] | None:
    if egress is None:
        return None
    return {"name": egress.name, "key": egress.key, "basis": egress.basis}


def to_json(hmap: HostMap) -> str:
    g = graph(hmap)
    doc = {
        "host": hmap.host,
        "egress": _egress_json(hmap.egress),
        "egress6": _egress_json(hmap.egress6),
        "nodes": [{"id": n.key, "kind": n.kind, "label": n.label} for n in g.nodes],
        "edges": [
            {"from": e.src, "to": e.dst, "kind": e.kind, "label": e.label, "key": e.key}
            for e in g.edges
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ dot
def dot_string(value: str) -> str:
    """``value`` as a dot double-quoted string: controls made visible, then ``\\`` and
    ``"`` escaped; line breaks are dot's ``\\n``."""
    lines = [escape_controls(line) for line in value.split("\n")]
    escaped = [line.replace("\\", "\\\\").replace('"', '\\"') for line in lines]
    return '"' + "\\n".join(escaped) + '"'


DOT_SHAPES = {
    "network": "box",
    "container": "box",
    "nat": "cds",
    "dnat": "cds",
    "interface": "ellipse",
    "internet": "doublecircle",
    "host": "house",
    "vxlan": "cds",
    "peer": "box3d",
    "mesh": "component",
}


def to_dot(hmap: HostMap) -> str:
    g = graph(hmap)
    ids = {n.key: f"n{i}" for i, n in enumerate(g.nodes)}
    out = ["digraph netexplorer {", "  rankdir=LR;", '  node [fontname="monospace"];']
    out.append(f"  label={dot_string('host ' + hmap.host)};")
    for n in g.nodes:
        style = ', style="rounded"' if n.kind == "container" else ""
        out.append(
            f"  {ids[n.key]} [label={dot_string(n.label)}, shape={DOT_SHAPES[n.kind]}{style}];"
        )
    for e in g.edges:
        label = f" [label={dot_string(e.label)}]" if e.label else ""
        out.append(f"  {ids[e.src]} -> {ids[e.dst]}{label};")
    out.append("}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ mermaid
#: characters a mermaid label may hold as they are; anything else is an entity
MERMAID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:/@+=_-")


def mermaid_text(value: str) -> str:
    """``value`` for inside a quoted mermaid label: line breaks as ``<br>``, every
    other character outside MERMAID_SAFE as a ``#<decimal code>;`` entity."""
    parts = []
    for line in value.split("\n"):
        parts.append(
            "".join(c if c in MERMAID_SAFE else f"#{ord(c)};" for c in escape_controls(line))
        )
    return "<br>".join(parts)


MERMAID_SHAPES = {
    "network": ('["', '"]'),
    "container": ('("', '")'),
    "nat": ('[/"', '"/]'),
    "dnat": ('[/"', '"/]'),
    "interface": ('(["', '"])'),
    "internet": ('(("', '"))'),
    "host": ('[["', '"]]'),
    "vxlan": ('[/"', '"/]'),
    "peer": ('[("', '")]'),
    "mesh": ('{{"', '"}}'),
}


def to_mermaid(hmap: HostMap) -> str:
    g = graph(hmap)
    ids = {n.key: f"n{i}" for i, n in enumerate(g.nodes)}
    out = ["flowchart LR"]
    for n in g.nodes:
        left, right = MERMAID_SHAPES[n.kind]
        out.append(f"  {ids[n.key]}{left}{mermaid_text(n.label)}{right}")
    for e in g.edges:
        label = f'|"{mermaid_text(e.label)}"|' if e.label else ""
        out.append(f"  {ids[e.src]} -->{label} {ids[e.dst]}")
    return "\n".join(out) + "\n"


def export(hmap: HostMap, fmt: str) -> str:
    """The map in ``fmt`` (one of FORMATS); text is the drawing itself."""
    if fmt == "dot":
        return to_dot(hmap)
    if fmt == "mermaid":
        return to_mermaid(hmap)
    if fmt == "json":
        return to_json(hmap)
    return draw(hmap).text()
