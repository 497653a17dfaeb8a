"""The map drawn with box characters: one drawing for the screen and ``map --format text``.

Networks are vertical buses, containers boxes on their left, each interface a
line from its box to its bus, labelled with the host veth (or the macvlan/ipvlan
mode). Buses joined by a multi-homed container share a section, so that each
container is drawn once. Above each bus its header (bridge, network, subnet,
gateway), below it the NAT step leading to the egress interface and the
internet, or "no way out"; below an overlay's br0 its VXLAN tunnel over the
underlay interface to each peer node and, when that node's read is open too, on
to its vxlan, br0, veth and container. Published ports come in from the left.

``draw`` returns the lines and the regions (row, columns, model key) of what can
be selected; the UI styles those regions, the CLI prints the lines. Every host
string goes through ``escape_controls`` first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netexplorer.literal import escape_controls
from netexplorer.map.model import (
    BRIDGE,
    OVERLAY,
    Bus,
    CtNode,
    Egress,
    HostMap,
    Link,
    MeshArrow,
    MeshTaskArrow,
    VxlanTunnel,
)
from netexplorer.overlay_peers import FarEnd

#: with more interface lines than this, every network starts folded
FOLD_ABOVE = 150
#: a container box is never wider than this (longer names end in "…")
BOX_MAX = 40
#: columns between two buses
BUS_GAP = 4
#: how a published port's row in a container box begins
PORT_MARK = "port "


@dataclass(frozen=True, slots=True)
class Region:
    """Columns ``start``..``end`` (exclusive) of line ``row`` show the item ``key``."""

    key: str
    row: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Drawing:
    lines: tuple[str, ...]
    regions: tuple[Region, ...]

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    @property
    def width(self) -> int:
        return max((len(line) for line in self.lines), default=0)


class _Canvas:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.regions: list[Region] = []

    def _row(self, row: int, upto: int) -> list[str]:
        while len(self.rows) <= row:
            self.rows.append([])
        line = self.rows[row]
        if len(line) < upto:
            line.extend(" " * (upto - len(line)))
        return line

    def put(self, row: int, col: int, text: str, key: str | None = None) -> int:
        """Write ``text`` at (row, col); returns the column after it."""
        end = col + len(text)
        line = self._row(row, end)
        line[col:end] = text
        if key is not None and text.strip():
            self.regions.append(Region(key, row, col, end))
        return end

    def char(self, row: int, col: int) -> str:
        line = self._row(row, col + 1)
        return line[col]

    def fill(self, row: int, start: int, end: int, ch: str) -> None:
        if end > start:
            self.put(row, start, ch * (end - start))

    @property
    def height(self) -> int:
        return len(self.rows)

    def drawing(self) -> Drawing:
        lines = tuple("".join(r).rstrip() for r in self.rows)
        regions = sorted(self.regions, key=lambda r: (r.row, r.start))
        return Drawing(lines, tuple(regions))


def lit(value: str) -> str:
    """A host string made literal for the drawing."""
    return escape_controls(value)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def default_folded(hmap: HostMap) -> frozenset[str]:
    """Every network folded when the drawing would be long; none otherwise."""
    lines = sum(len(c.links) for c in hmap.containers)
    if lines > FOLD_ABOVE:
        return frozenset(b.key for b in hmap.buses)
    return frozenset()


def sections(hmap: HostMap, folded: frozenset[str]) -> list[tuple[list[Bus], list[CtNode]]]:
    """Open buses grouped by the containers joining them, with those containers."""
    open_buses = [b for b in hmap.buses if b.key not in folded]
    index = {b.key: i for i, b in enumerate(open_buses)}
    parent = list(range(len(open_buses)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for ct in hmap.containers:
        joined = [index[lk.bus_key] for lk in ct.links if lk.bus_key in index]
        for other in joined[1:]:
            parent[find(other)] = find(joined[0])
    groups: dict[int, list[Bus]] = {}
    for i, bus in enumerate(open_buses):
        groups.setdefault(find(i), []).append(bus)
    members: dict[int, list[tuple[int, str, CtNode]]] = {}
    for ct in hmap.containers:
        joined = [index[lk.bus_key] for lk in ct.links if lk.bus_key in index]
        if joined:
            members.setdefault(find(joined[0]), []).append((min(joined), ct.name, ct))
    out = []
    for root, buses in sorted(groups.items(), key=lambda kv: index[kv[1][0].key]):
        cts = [ct for _, _, ct in sorted(members.get(root, []), key=lambda t: (t[0], t[1]))]
        out.append((buses, cts))
    return out


# ------------------------------------------------------------------ texts
def bus_title(bus: Bus) -> str:
    if bus.kind == BRIDGE:
        parts = [lit(bus.device), f"network {lit(bus.network)}"]
    elif bus.kind == OVERLAY:
        parts = [lit(bus.device), f"overlay network {lit(bus.network)}"]
        if bus.tunnel is not None and bus.tunnel.vni is not None:
            parts.append(f"VNI {bus.tunnel.vni}")
        if bus.encrypted:
            parts.append("encrypted (IPsec)")
    else:
        parts = [
            f"{lit(bus.device)} (parent)",
            f"{bus.driver} {bus.mode} network {lit(bus.network)}",
        ]
    parts += [lit(s) for s in bus.subnets]
    parts += [f"gw {lit(g)}" for g in bus.gateways]
    if bus.internal:
        parts.append("internal")
    return " · ".join(parts)


def nat_text(step_target: str, text: str, family: str, packets: int, delta: int | None) -> str:
    src = _source_of(text)
    label = f"{step_target}{' ' + src if src else ''}"
    if family == "ipv6":
        label += " (NAT66)"
    label += f" · {packets} pkts"
    if delta:
        label += f" (+{delta})"
    return label


def _source_of(text: str) -> str:
    words = text.split()
    for i, w in enumerate(words[:-1]):
        if w == "-s" and (i == 0 or words[i - 1] != "!"):
            return lit(words[i + 1])
    return ""


def _inside_rows(link: Link) -> list[str]:
    addrs = [lit(a) for a in link.addresses] or ["no address"]
    first = f"{lit(link.inside)} {addrs[0]}"
    pad = " " * (len(lit(link.inside)) + 1)
    return [first] + [pad + a for a in addrs[1:]]


def _port_label(ct: CtNode) -> list[tuple[str, str | None, str, str | None]]:
    """(host side text, its key, rule text, rule key) per published port."""
    out = []
    for p in ct.ports:
        host_ip = f"[{p.host_ip}]" if ":" in p.host_ip else p.host_ip
        out.append(
            (
                f"{lit(p.host_if)} {lit(host_ip)}:{p.host_port}",
                p.host_if_key,
                "DNAT" if p.rule_key else "no DNAT rule",
                p.rule_key,
            )
        )
    return out


# ------------------------------------------------------------------ drawing
def draw(hmap: HostMap, folded: frozenset[str] | None = None) -> Drawing:
    """The whole map; ``folded``: keys of the buses shown as one line (default: by size)."""
    if folded is None:
        folded = default_folded(hmap)
    cv = _Canvas()
    title = f"host {lit(hmap.host)}" if hmap.host else "host"
    cv.put(0, 0, title)
    row = 2
    for buses, cts in sections(hmap, folded):
        row = _draw_section(cv, row, buses, cts, hmap) + 1
    row = _draw_folded(cv, row, [b for b in hmap.buses if b.key in folded])
    row = _draw_group(cv, row, "host network (the host's own interfaces)", hmap.host_containers)
    for ct in hmap.alone:
        where = (
            f"on {', '.join(lit(e) for e in ct.elsewhere)}"
            if ct.elsewhere
            else f"no network ({ct.mode})"
        )
        row = _draw_group(cv, row, f"{lit(ct.name)}: {where}", (ct,))
    row = _draw_group(cv, row, "sharing a netns not in the read", hmap.orphans)
    row = _draw_mesh(cv, row, hmap.mesh)
    for label, egress in (("egress", hmap.egress), ("IPv6 egress", hmap.egress6)):
        if egress is not None:
            end = cv.put(row, 0, f"{label} ")
            end = cv.put(row, end, lit(egress.name), egress.key)
            cv.put(row, end, f": {lit(egress.basis)}")
            row += 1
    if hmap.egress is None:
        cv.put(row, 0, f"egress: {hmap.no_egress}")
    return cv.drawing()


def _box_rows(ct: CtNode) -> list[tuple[str, str | None, Link | None]]:
    """(text, key, link) of each row inside a container's box."""
    rows: list[tuple[str, str | None, Link | None]] = []
    for link in ct.links:
        for i, text in enumerate(_inside_rows(link)):
            rows.append((text, None, link if i == 0 else None))
    for s in ct.sidecars:
        rows.append((f"+ {lit(s.name)} (shares its netns)", s.key, None))
    for other in ct.elsewhere:
        rows.append((f"also on {lit(other)}", None, None))
    for p in ct.ports:
        rows.append((f"{PORT_MARK}{p.container_port}/{lit(p.protocol)} published", None, None))
    return rows


def _draw_section(
    cv: _Canvas,
    top: int,
    buses: list[Bus],
    cts: list[CtNode],
    hmap: HostMap,
) -> int:
    ports = [lbl for ct in cts for lbl in _port_label(ct)]
    margin = max((len(h) + len(r) + 8 for h, _, r, _ in ports), default=0)
    inner = max(
        [len(lit(ct.name)) + 4 for ct in cts]
        + [len(t) + 2 for ct in cts for t, _, _ in _box_rows(ct)]
        + [12]
    )
    inner = min(inner, BOX_MAX)
    right = margin + inner + 1  # the box's right border
    label_w = max([len(lit(lk.label)) for ct in cts for lk in ct.links] + [8]) + 6
    xs = {b.key: right + 1 + label_w + BUS_GAP * i for i, b in enumerate(buses)}
    by_key = {b.key: b for b in hmap.buses}
    last_x = right + 1 + label_w + BUS_GAP * (len(buses) - 1)

    # headers: a staircase, bus i's box starts two columns left of its bus
    row = top
    for i, bus in enumerate(buses):
        x = xs[bus.key]
        text = bus_title(bus)
        left = x - 2
        cv.put(row, left, "┌" + "─" * (len(text) + 2) + "┐")
        cv.put(row + 1, left, "│ ")
        end = cv.put(row + 1, left + 2, text.split(" · ")[0], bus.device_key or bus.key)
        rest = text[len(text.split(" · ")[0]) :]
        end = cv.put(row + 1, end, rest, bus.key if bus.kind != BRIDGE else None)
        cv.put(row + 1, end, " │")
        cv.put(row + 2, left, "└─┬" + "─" * len(text) + "┘")
        for prev in buses[:i]:
            for r in range(row, row + 3):
                cv.put(r, xs[prev.key], "│")
        row += 3

    # containers
    for ct in cts:
        rows = _box_rows(ct)
        name = clip(lit(ct.name) + ("" if ct.state == "running" else f" ({ct.state})"), inner - 3)
        for b in buses:
            for r in range(row, row + len(rows) + 2):
                cv.put(r, xs[b.key], "│")
        cv.put(row, margin, "┌ ")
        end = cv.put(row, margin + 2, name, ct.key)
        cv.put(row, end, " " + "─" * (right - end - 1) + "┐")
        labels = iter(_port_label(ct))
        for r, (text, key, link) in enumerate(rows, start=row + 1):
            cv.put(r, margin, "│" + " " * (inner) + "│")
            cv.put(r, margin + 2, clip(text, inner - 2), key or ct.key)
            if text.startswith(PORT_MARK):
                host, host_key, rule, rule_key = next(labels)
                end = cv.put(r, 0, host, host_key)
                cv.put(r, end, " ─▶ ")
                end = cv.put(r, end + 4, rule, rule_key)
                cv.put(r, end, " ")
                cv.fill(r, end + 1, margin, "─")
                cv.put(r, margin, "▶")
            if link is not None:
                _draw_link(cv, r, right, link, xs, last_x, by_key)
        cv.put(row + len(rows) + 1, margin, "└" + "─" * inner + "┘")
        row += len(rows) + 2

    # footers: a staircase the other way, the rightmost bus ends first
    for b in buses:
        cv.put(row, xs[b.key], "│")
    row += 1
    for i in range(len(buses) - 1, -1, -1):
        bus = buses[i]
        x = xs[bus.key]
        steps = _footer(bus, hmap)
        for n, parts in enumerate(steps):
            for prev in buses[:i]:
                cv.put(row, xs[prev.key], "│")
            col = cv.put(row, x, "└─ " if n == len(steps) - 1 else "├─ ")
            for text, key in parts:
                col = cv.put(row, col, text, key)
            row += 1
    return row


def tunnel_text(t: VxlanTunnel) -> str:
    return f"VXLAN {lit(t.vxlan)} · VNI {t.vni} · UDP {t.port}" + (
        " in IPsec ESP" if t.encrypted else ""
    )


def peer_text(ip: str, node: str | None) -> str:
    return f"{lit(ip)} (node {lit(node)})" if node else lit(ip)


def _tunnel_footer(bus: Bus) -> list[list[tuple[str, str | None]]]:
    """``VXLAN vxlan0 · VNI 4097 · UDP 4789 ─▶ nx-sw0 ─▶ 198.51.100.18 (node b)``, a
    row per peer node; with that node's read open, the row goes on to its vxlan,
    br0, veth and container (a row per container there)."""
    t = bus.tunnel
    if t is None:
        return [[("overlay: its namespace was not read (no vxlan known)", None)]]
    head: list[tuple[str, str | None]] = [(tunnel_text(t), t.vxlan_key), (" ─▶ ", None)]
    head.append((lit(t.underlay), t.underlay_key) if t.underlay else ("underlay unknown", None))
    if not t.peers:
        return [[*head, (" ─▶ no peer node in the FDB", None)]]
    rows = []
    for ip, node in t.peers:
        row = [*head, (" ─▶ ", None), (peer_text(ip, node), None)]
        ends = [e for e in t.far if e.vtep == ip]
        if not ends:
            rows.append(row)
        for end in ends:
            rows += [row + parts for parts in far_parts(end)]
    return rows


def far_parts(end: FarEnd) -> list[list[tuple[str, str | None]]]:
    """`` ═▶ node2: vxlan0 ─▶ br0 ─▶ veth1 ─▶ sw2 10.200.0.12``: a tunnel's far end on
    another host being explored, a row per container the FDB sends there."""
    if end.vxlan is None or end.vxlan_key is None:
        return [[(f" ═▶ {lit(end.host)}: its vxlan on this network was not read", None)]]
    head: list[tuple[str, str | None]] = [
        (" ═▶ ", None),
        (f"{lit(end.host)}: {lit(end.vxlan)}", end.key(end.vxlan_key)),
        (" ─▶ ", None),
        (lit(end.bridge or "br0"), end.key(end.bridge_key) if end.bridge_key else None),
    ]
    if not end.members:
        return [[*head, (" ─▶ no container there in the FDB", None)]]
    rows = []
    for m in end.members:
        port: list[tuple[str, str | None]] = (
            [(" ─▶ ", None), (lit(m.port), end.key(m.port_key))]
            if m.port is not None and m.port_key is not None
            else [(" ─▶ no veth found", None)]
        )
        name = (f"{lit(m.name)} {lit(m.address)}".rstrip(), end.key(m.container_key))
        rows.append([*head, *port, (" ─▶ ", None), name])
    return rows


def _footer(bus: Bus, hmap: HostMap) -> list[list[tuple[str, str | None]]]:
    if bus.kind == OVERLAY:
        return _tunnel_footer(bus)
    if bus.kind != BRIDGE:
        return [[(f"{bus.driver}: no Docker NAT; out through the parent ", None),
                 (lit(bus.device), bus.device_key)]]  # fmt: skip
    if bus.internal:
        return [[("internal: no way out", None)]]
    if not bus.nat:
        return [[("no MASQUERADE rule: leaves untranslated", None)]]
    return [
        [(nat_text(s.target, s.text, s.family, s.packets, s.delta_packets), s.key),
         *_egress_parts(hmap.egress6 if s.family == "ipv6" else hmap.egress, s.family)]
        for s in bus.nat
    ]  # fmt: skip


def mesh_text(m: MeshArrow) -> str:
    """``tcp 8081 ─▶ DNAT to 172.18.0.2:8081``: a mesh port's entry on the host."""
    return f"{lit(m.protocol)} {m.port} ─▶ DNAT to {lit(m.to)}"


def mesh_task_text(t: MeshTaskArrow) -> str:
    port = f" ─▶ port {t.port}" if t.port is not None else " ─▶ its rules not read"
    return f"{lit(t.name)} {lit(t.address)}{port}"


def mesh_parts(m: MeshArrow) -> list[list[tuple[str, str | None]]]:
    """A mesh port as rows: the entry, ingress_sbox, the MARK and the IPVS service,
    then a row per task (REDIRECT to the target port there)."""
    head: list[tuple[str, str | None]] = [(mesh_text(m), m.dnat_key)]
    if m.sbox is not None:
        head += [(" ─▶ ", None), (lit(m.sbox), m.sbox_key)]
    if m.mark:
        head += [(" · ", None), (f"MARK {m.mark:#x}", m.mark_key)]
    if m.service is not None:
        head += [(" · ", None), (f"IPVS {lit(m.service)}", m.sbox_key)]
    if m.missing is not None:
        head.append((f" ─▶ {lit(m.missing)}", None))
    rows = [head]
    for t in m.tasks:
        rows.append([("    ─▶ ", None), (mesh_task_text(t), t.key)])
        if t.redirect_key is not None:
            rows[-1].append((" (REDIRECT)", t.redirect_key))
    return rows


def _draw_mesh(cv: _Canvas, row: int, mesh: Iterable[MeshArrow]) -> int:
    """The ports published through the swarm's ingress routing mesh, each to its tasks."""
    arrows = list(mesh)
    if not arrows:
        return row
    cv.put(row, 0, "ingress routing mesh (swarm services' published ports):")
    row += 1
    for m in arrows:
        for parts in mesh_parts(m):
            col = 2
            for text, key in parts:
                col = cv.put(row, col, text, key)
            row += 1
    return row + 1


def _egress_parts(egress: Egress | None, family: str) -> list[tuple[str, str | None]]:
    """``─▶ eth0 ─▶ internet``: where a NAT step's packets leave."""
    if egress is None:
        return [(" ─▶ egress unknown (below)" if family != "ipv6" else " ─▶ no IPv6 default route",
                 None)]  # fmt: skip
    return [(" ─▶ ", None), (lit(egress.name), egress.key), (" ─▶ internet", None)]


def _draw_link(
    cv: _Canvas,
    row: int,
    right: int,
    link: Link,
    xs: dict[str, int],
    last_x: int,
    by_key: dict[str, Bus],
) -> None:
    cv.put(row, right, "├──")
    end = cv.put(row, right + 3, " ")
    end = cv.put(row, end, lit(link.label), link.label_key)
    end = cv.put(row, end, " ")
    target = xs.get(link.bus_key)
    if target is not None:
        cv.fill(row, end, target, "─")
        cv.put(row, target, "┤")
        return
    cv.fill(row, end, last_x + 2, "─")
    bus = by_key.get(link.bus_key)
    name = lit(bus.device) if bus is not None else "?"
    cv.put(row, last_x + 2, "▶ ")
    cv.put(row, last_x + 4, f"{name} (folded)", link.bus_key)


def _draw_folded(cv: _Canvas, row: int, buses: Iterable[Bus]) -> int:
    buses = list(buses)
    if not buses:
        return row
    cv.put(row, 0, f"folded networks ({len(buses)}; Enter opens one):")
    row += 1
    for bus in buses:
        n = bus.members
        cv.put(row, 0, "▸ ")
        cv.put(row, 2, f"{bus_title(bus)} · {n} container{'s' if n != 1 else ''}", bus.key)
        row += 1
    return row + 1


def _draw_group(cv: _Canvas, row: int, title: str, cts: Iterable[CtNode]) -> int:
    cts = list(cts)
    if not cts:
        return row
    names = [clip(lit(ct.name) + ("" if ct.state == "running" else f" ({ct.state})"), BOX_MAX)
             for ct in cts]  # fmt: skip
    sidecars = [(s, ct) for ct in cts for s in ct.sidecars]
    inner = max([len(title) + 2] + [len(n) + 2 for n in names]
                + [len(lit(s.name)) + 22 for s, _ in sidecars])  # fmt: skip
    cv.put(row, 0, "┌ " + title + " " + "─" * (inner - len(title) - 2) + "┐")
    row += 1
    for ct, name in zip(cts, names, strict=True):
        cv.put(row, 0, "│" + " " * inner + "│")
        cv.put(row, 2, name, ct.key)
        row += 1
        for s in ct.sidecars:
            cv.put(row, 0, "│" + " " * inner + "│")
            cv.put(row, 4, f"+ {lit(s.name)} (shares its netns)", s.key)
            row += 1
    cv.put(row, 0, "└" + "─" * inner + "┘")
    return row + 2


# ------------------------------------------------------------------ moving and finding
def neighbour(drawing: Drawing, at: int, down: int, right: int) -> int | None:
    """The region an arrow key leads to from region ``at`` (an index in
    ``drawing.regions``): up/down to the nearest row holding another item, the
    region there closest in column; left/right to the next other item on the row."""
    regions = drawing.regions
    here = regions[at]
    if right:
        row = [
            (i, r)
            for i, r in enumerate(regions)
            if r.row == here.row and r.key != here.key and (r.start - here.start) * right > 0
        ]
        if not row:
            return None
        return min(row, key=lambda ir: abs(ir[1].start - here.start))[0]
    rows = sorted(
        {r.row for r in regions if (r.row - here.row) * down > 0 and r.key != here.key},
        key=lambda n: abs(n - here.row),
    )
    if not rows:
        return None
    target = rows[0]
    on_row = [(i, r) for i, r in enumerate(regions) if r.row == target and r.key != here.key]
    return min(on_row, key=lambda ir: abs(ir[1].start - here.start))[0]


def search_rows(hmap: HostMap) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(key, texts to match, buses to open to show it) of everything the map can show,
    folded or not: containers, buses, veths, NAT rules."""
    out: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    for ct in hmap.containers:
        buses = tuple(dict.fromkeys(lk.bus_key for lk in ct.links))
        addrs = tuple(a for lk in ct.links for a in lk.addresses)
        out.append((ct.key, (lit(ct.name), *addrs), buses[:1]))
        for lk in ct.links:
            if lk.label_key is not None:
                out.append((lk.label_key, (lit(lk.label),), (lk.bus_key,)))
        for s in ct.sidecars:
            out.append((s.key, (lit(s.name),), buses[:1]))
    for bus in hmap.buses:
        out.append((bus.key, (lit(bus.device), lit(bus.network), *bus.subnets), ()))
        for step in bus.nat:
            out.append((step.key, (step.text,), (bus.key,)))
        if bus.tunnel is not None:
            texts = (lit(bus.tunnel.vxlan), *(ip for ip, _ in bus.tunnel.peers))
            out.append((bus.tunnel.vxlan_key, texts, (bus.key,)))
            for end in bus.tunnel.far:
                for m in end.members:
                    texts = (lit(m.name), m.address, lit(end.host))
                    out.append((end.key(m.container_key), texts, (bus.key,)))
    for ct in (*hmap.host_containers, *hmap.alone, *hmap.orphans):
        out.append((ct.key, (lit(ct.name),), ()))
    return out
