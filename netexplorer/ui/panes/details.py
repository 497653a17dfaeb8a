"""Details: everything the model knows about the item under the cursor, and what it links to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from netexplorer.analysis import Analysis
from netexplorer.correlate import Correlation
from netexplorer.ipsec import peer_esp_states
from netexplorer.model import (
    KIND_NAMES,
    Bridge,
    BridgePort,
    Container,
    Endpoint,
    Interface,
    NatFlow,
    NetnsView,
    Network,
    Rule,
    Snapshot,
    is_default_rule,
)
from netexplorer.naming import (
    connect_commands,
    netns_words,
    network_mode_name,
    run_flags,
)
from netexplorer.overlay import overlay_hops
from netexplorer.overlay_peers import FarEnd
from netexplorer.rule_summary import summary
from netexplorer.ui.panes.base import Pane
from netexplorer.ui.quiet_static import QuietStatic
from netexplorer.ui.safe_text import plain

KIND_ORDER = ("ct", "ep", "if", "br", "net", "rule", "doc")


# ---------------------------------------------------------------------- facts
def flow_text(flow: NatFlow) -> str:
    """``icmp 172.17.0.2 -> 203.0.113.1 leaves as 198.51.100.1 (SNAT)``."""

    def ep(addr: str, port: int | None) -> str:
        text = plain(addr)
        if port is None:
            return text
        return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"

    portless = flow.orig_dport is None
    src = ep(flow.orig_src, None if portless else flow.orig_sport)
    dst = ep(flow.orig_dst, flow.orig_dport)
    parts = [f"{plain(flow.proto)} {src} -> {dst}"]
    if flow.snat:
        parts.append(f"leaves as {ep(flow.reply_dst, None if portless else flow.reply_dport)}")
    if flow.dnat:
        parts.append(f"goes to {ep(flow.reply_src, None if portless else flow.reply_sport)}")
    parts.append(f"({plain(flow.nat).upper()})")
    extra = [plain(x) for x in (flow.state, *flow.flags) if x]
    return " ".join(parts + extra)


def _container_facts(ct: Container, snapshot: Snapshot, corr: Correlation) -> list[str]:
    mode = network_mode_name(ct, snapshot.containers)
    lines = [
        f"{plain(ct.name)}  {plain(ct.state)}  image {plain(ct.image)}  id {ct.short_id}",
        f"pid {plain(ct.pid)}  netns id {plain(ct.netnsid)}  network mode {plain(mode)}",
    ]
    words = netns_words(ct, snapshot.containers)
    owner = corr.netns_owner(ct)
    if words is not None:
        lines.append(plain(words) + (f" ({plain(owner.state)})" if owner else ""))
    flags = run_flags(ct, snapshot.containers)
    lines.append(
        "docker run " + " ".join(plain(f) for f in flags)
        if flags
        else "docker run: no network flag (the default bridge)"
    )
    lines += [f"  then {plain(c)}" for c in connect_commands(ct)]
    for p in ct.published_ports:
        lines.append(
            f"published {plain(p.host_ip)}:{p.host_port} -> {p.container_port}/{plain(p.protocol)}"
        )
    for ep in ct.endpoints:
        lines += _endpoint_facts(ep, snapshot, corr)
    lines += _inside_facts(ct, snapshot)
    flows = corr.flows(ct)
    if flows:
        lines.append(f"NAT translations now ({len(flows)}):")
        lines += [f"  {flow_text(f)}" for f in flows]
    return lines


def _inside_of(container_id: str, snapshot: Snapshot) -> NetnsView | None:
    """The namespace a container's processes see (a ``container:`` sharer's owner's)."""
    ct = next((c for c in snapshot.containers if c.id == container_id), None)
    if ct is not None and ct.netns_owner:
        ct = next((c for c in snapshot.containers if c.id == ct.netns_owner), None)
    return ct.inside if ct is not None else None


def _container_side(
    ep: Endpoint, peer_ifindex: int | None, netnsid: int | None, snapshot: Snapshot
) -> str:
    """``container side: eth0@if7 (ifindex 6) UP mtu 1500; netns id 0`` as 'ip a' inside."""
    inside = _inside_of(ep.container_id, snapshot)
    inner = inside.interface_for(ep) if inside is not None else None
    if inner is None:
        return (
            f"  container side: ifindex {plain(peer_ifindex)} (its name inside was not "
            f"read); netns id {plain(netnsid)}"
        )
    at = f"@if{inner.link_ifindex}" if inner.link_ifindex else ""
    return (
        f"  container side: {plain(inner.name)}{at} (ifindex {inner.ifindex}) "
        f"{plain(inner.operstate)} mtu {plain(inner.mtu)}; netns id {plain(netnsid)}"
    )


def _inside_facts(ct: Container, snapshot: Snapshot) -> list[str]:
    """The container's routes and any policy rule beyond the defaults, as 'ip' prints them."""
    if ct.network_mode == "host":
        return ["network namespace: the host's (its routes are the host's)"]
    inside = _inside_of(ct.id, snapshot)
    if inside is None:
        return []
    if inside.error:
        return [f"inside: {plain(inside.error)}"]
    lines = ["routes inside ('ip route'):"]
    lines += [f"  {plain(r.text())}" for r in inside.main_routes()] or ["  none"]
    extra = [r for r in inside.ip_rules if not is_default_rule(r)]
    if extra:
        lines.append("policy rules inside beyond the defaults ('ip rule'):")
        lines += [f"  {plain(r.text())}" for r in extra]
    return lines


def _host_routes_on(dev: str, snapshot: Snapshot) -> list[str]:
    """The host's routes out of ``dev`` (not the local table), as 'ip route' prints them."""
    routes = [r for r in snapshot.routes if r.dev == dev and r.table != 255]
    if not routes:
        return []
    return ["host routes on it:"] + [f"  {plain(r.text())}" for r in routes]


def _child_kind(ep: Endpoint, snapshot: Snapshot) -> str:
    """'ipvlan l3 ' / 'macvlan bridge ' for a macvlan/ipvlan endpoint, else ''."""
    net = next((n for n in snapshot.networks if n.key == ep.network_key), None)
    if not isinstance(net, Network) or net.child_mode is None:
        return ""
    return f"{plain(net.driver)} {plain(net.child_mode)} "


def _endpoint_facts(ep: Endpoint, snapshot: Snapshot, corr: Correlation) -> list[str]:
    w = corr.wiring(ep)
    addr = f"{plain(ep.ipv4)}/{plain(ep.ipv4_prefixlen)}" if ep.ipv4 else plain(ep.ipv6)
    lines = [f"on {plain(ep.network)}: IP {addr}  MAC {plain(w.mac)}  gateway {plain(ep.gateway)}"]
    if ep.ipv6 and ep.ipv4:
        lines.append(f"  IPv6 {plain(ep.ipv6)}/{plain(ep.ipv6_prefixlen)}")
    if w.parent:
        lines.append(
            f"  {_child_kind(ep, snapshot)}child of host interface {plain(w.parent)} "
            f"(ifindex {plain(w.parent_ifindex)})"
            "; no veth: the container's interface lives in its own netns"
        )
    elif w.host_veth:
        lines.append(
            f"  host side: {plain(w.host_veth)}@if{plain(w.peer_ifindex)} "
            f"(ifindex {plain(w.host_ifindex)}) on bridge {plain(w.bridge)}"
        )
        lines.append(_container_side(ep, w.peer_ifindex, w.netnsid, snapshot))
    elif w.bridge:
        lines.append(f"  bridge {plain(w.bridge)}; host veth not found")
    elif (found := corr.overlay.of_endpoint(ep.key)) is not None:
        lines.append("  overlay: " + " -> ".join(plain(h) for h in overlay_hops(*found)))
    return lines


def _interface_facts(iface: Interface, snapshot: Snapshot, corr: Correlation) -> list[str]:
    name = plain(iface.name)
    if iface.link_ifindex:
        name += f"@if{iface.link_ifindex}"
    lines = [
        f"{iface.ifindex}: {name}: <{','.join(plain(f) for f in iface.flags)}> "
        f"mtu {plain(iface.mtu)} state {plain(iface.operstate).upper()}"
        + (f" master {plain(iface.master)}" if iface.master else ""),
        f"    link/ether {plain(iface.mac)}  kind {plain(iface.kind, empty='(physical)')}",
    ]
    lines += [f"    {a.family} {plain(a.cidr)} scope {plain(a.scope)}" for a in iface.addresses]
    if iface.link_ifindex is not None:
        lines.append(f"peer: ifindex {iface.link_ifindex} in netns id {plain(iface.link_netnsid)}")
    for ct in snapshot.containers:
        for ep in ct.endpoints:
            w = corr.wiring(ep)
            if w.host_ifindex == iface.ifindex:
                lines.append(f"veth of container {plain(ct.name)} on network {plain(ep.network)}")
                lines.append(_container_side(ep, w.peer_ifindex, w.netnsid, snapshot))
            elif w.parent_ifindex == iface.ifindex:
                lines.append(
                    f"parent of the {_child_kind(ep, snapshot)}interface of container "
                    f"{plain(ct.name)} on network {plain(ep.network)}"
                )
    if iface.kind != "bridge":  # a bridge's routes are with its bridge facts
        lines += _host_routes_on(iface.name, snapshot)
    return lines


def _bridge_facts(br: Bridge, snapshot: Snapshot, corr: Correlation) -> list[str]:
    network = corr.bridge_network.get(br.name)
    lines = [
        f"bridge {plain(br.name)} (ifindex {br.ifindex}) {plain(br.operstate).upper()}  "
        f"MAC {plain(br.mac)}  STP {'on' if br.stp else 'off'}  network {plain(network)}"
    ]
    lines += [f"  port {plain(p.name)} (ifindex {p.ifindex}) {plain(p.state)}" for p in br.ports]
    return lines + _host_routes_on(br.name, snapshot)


def _network_facts(net: Network, snapshot: Snapshot) -> list[str]:
    """The network's driver and shape; an overlay's VNI, attachable and encrypted."""
    head = f"network {plain(net.name)}: driver {plain(net.driver)}, scope {plain(net.scope)}"
    lines = [head]
    if net.subnets:
        lines.append("  subnets " + ", ".join(plain(s) for s in net.subnets))
    if net.driver == "overlay":
        lines.append(
            f"  VNI {plain(net.vni)}"
            + ("  ingress (routing mesh)" if net.ingress else "")
            + f"  attachable {'yes' if net.attachable else 'no'}"
            + f"  encrypted {'yes (IPsec ESP between the nodes)' if net.encrypted else 'no'}"
        )
        if net.peers:
            nodes = ", ".join(f"{plain(p.name)} {plain(p.ip)}" for p in net.peers)
            lines.append(f"  nodes {nodes}")
        if net.encrypted:
            lines += _ipsec_facts(net, snapshot)
    return lines


def _ipsec_facts(net: Network, snapshot: Snapshot) -> list[str]:
    """The ESP states (``ip xfrm state``) with each other node of an encrypted overlay."""
    if not snapshot.xfrm_read:
        return ["  IPsec: the host's states were not read"]
    lines = []
    for peer, states in peer_esp_states(net, snapshot):
        spis = [
            f"{'out' if x.dst == peer.ip else 'in'} SPI {x.spi:#x}"
            for x in states
            if x.spi is not None
        ]
        what = ", ".join(spis) if spis else "no ESP state: its traffic is dropped"
        lines.append(f"  IPsec with {plain(peer.name)} {plain(peer.ip)}: {what}")
    return lines


def _rule_facts(rule: Rule, corr: Correlation) -> list[str]:
    unreached = (
        [
            f"NEVER RUNS: no base chain leads to {plain(rule.chain)} "
            "(no jump, goto or verdict-map element; see the doctor)"
        ]
        if rule.unreached
        else []
    )
    inside = [f"read inside namespace {plain(rule.netns)}"] if rule.netns else []
    return [
        *unreached,
        *inside,
        f"{plain(rule.table)} / {plain(rule.chain)} #{rule.position}  "
        f"({plain(rule.backend)}, {plain(rule.family)})",
        f"in short: {plain(summary(rule))}",
        plain(rule.text),
        f"packets {rule.packets}  bytes {rule.bytes}"
        + (
            f"  (+{rule.delta_packets} packets, +{rule.delta_bytes} bytes since the previous read)"
            if rule.delta_packets is not None
            else ""
        ),
        "containers: "
        + (", ".join(plain(n) for n in corr.rule_containers.get(rule.id, ())) or "none"),
        "bridges: " + (", ".join(plain(n) for n in corr.rule_bridges.get(rule.id, ())) or "none"),
    ]


def facts(item: object, snapshot: Snapshot, corr: Correlation) -> list[str]:
    if isinstance(item, Container):
        return _container_facts(item, snapshot, corr)
    if isinstance(item, Endpoint):
        return _endpoint_facts(item, snapshot, corr)
    if isinstance(item, Interface):
        return _interface_facts(item, snapshot, corr)
    if isinstance(item, BridgePort):
        return [f"port of a bridge, STP state {plain(item.state)}"]
    if isinstance(item, Bridge):
        return _bridge_facts(item, snapshot, corr)
    if isinstance(item, Rule):
        return _rule_facts(item, corr)
    if isinstance(item, Network):
        return _network_facts(item, snapshot)
    return []


# ---------------------------------------------------------------------- model dump
def _dump(obj: object, indent: int, out: Text) -> None:
    pad = "  " * indent
    if not (is_dataclass(obj) and not isinstance(obj, type)):
        out.append(f"{pad}{plain(obj)}\n")
        return
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None or value == [] or value == {} or value == "":
            continue
        if is_dataclass(value):
            out.append(f"{pad}{f.name}:\n", style="italic")
            _dump(value, indent + 1, out)
        elif isinstance(value, list) and is_dataclass(value[0]):
            out.append(f"{pad}{f.name}:\n", style="italic")
            for n, item in enumerate(value):
                out.append(f"{pad}  [{n}]\n")
                _dump(item, indent + 2, out)
        elif isinstance(value, list):
            out.append(f"{pad}{f.name}: ", style="italic")
            out.append(", ".join(plain(v) for v in value) + "\n")
        elif isinstance(value, dict):
            out.append(f"{pad}{f.name}:\n", style="italic")
            for k, v in value.items():
                out.append(f"{pad}  {plain(k)} = {plain(v)}\n")
        else:
            out.append(f"{pad}{f.name}: ", style="italic")
            out.append(f"{plain(value)}\n")


def describe(key: str, result: Analysis) -> Text:
    """The details text for ``key``: facts, linked items, then every model field."""
    snapshot, links = result.read, result.links
    items = result.items.get(key, ())
    kind = KIND_NAMES.get(links.kind(key), "item")
    out = Text(end="")
    out.append(f"{kind} {plain(links.labels.get(key, key))}\n", style="bold underline")
    if not items and key not in links.notes:
        out.append("not in this snapshot (gone since it was selected)\n")
        return out
    for item in items:
        for line in facts(item, snapshot, result.correlation):
            out.append(line + "\n")
    for line in links.notes.get(key, []):
        out.append(plain(line, empty="") + "\n")
    related = sorted(
        links.related(key) - {key},
        key=lambda k: (
            KIND_ORDER.index(links.kind(k)) if links.kind(k) in KIND_ORDER else 99,
            links.labels.get(k, k),
        ),
    )
    out.append(f"\nlinked ({len(related)}):\n", style="bold")
    for k in related:
        out.append(f"  {KIND_NAMES.get(links.kind(k), '?'):<9} ", style="italic")
        out.append(plain(links.labels.get(k, k)) + "\n")
    out.append("\nmodel:\n", style="bold")
    for item in items:
        out.append(f"  {type(item).__name__}\n", style="italic")
        _dump(item, 2, out)
        if isinstance(item, Endpoint):
            out.append("  Wiring (correlated)\n", style="italic")
            _dump(result.correlation.wiring(item), 2, out)
    return out


class DetailsPane(Pane):
    pane_id = "details"
    number = 5
    title = "Details"
    short = "Details"

    def __init__(self) -> None:
        super().__init__()
        self.scroller = VerticalScroll(id="details-scroll")
        self.body = QuietStatic(Text("Nothing selected yet."), id="details-body")
        self.key: str | None = None
        #: a line above the item's facts (the previous selection vanished)
        self.note: str | None = None
        #: several hosts: item key -> where its overlay tunnels lead on the other hosts
        self.far: Mapping[str, list[FarEnd]] = {}

    def compose(self) -> ComposeResult:
        with self.scroller:
            yield self.body

    def focus_pane(self) -> None:
        self.scroller.focus()

    def show_item(
        self,
        key: str | None,
        result: Analysis | None,
        note: str | None = None,
    ) -> None:
        """Show ``key``; ``note`` (e.g. "test3 is gone") stays until another item is shown."""
        if key != self.key:
            self.scroller.scroll_home(animate=False)
            self.note = None
        self.key = key
        if note is not None:
            self.note = note
        text = Text(end="")
        if self.note:
            text.append(f"{self.note}\n\n", style="bold reverse")
        if key is None or result is None:
            text.append("Nothing selected yet.")
        else:
            text.append_text(describe(key, result))
            if key in self.far:
                text.append("\nthrough the tunnel, on the other hosts:\n", style="bold")
                for end in self.far[key]:
                    text.append(f"  {plain(end.words())}\n")
        self.body.show(text)
