"""The path engine: hop by hop, in kernel order, from a source to a destination.

A packet starts in its source's network namespace (route lookup there, then the
veth to the host and the bridge), on the host (``host`` or a ``--network host``
container: route lookup, OUTPUT) or arrives from outside on the interface the
host routes that address through. On the host it crosses the netfilter hooks
(:mod:`netexplorer.path.netfilter`) and the host's route lookup; a bridged packet
(same bridge) passes iptables only when br_netfilter says so. The reply follows
with conntrack ESTABLISHED and the NAT undone.

With the reads of other hosts given (``others``), a packet that leaves through a
swarm overlay's tunnel to one of them goes on there (:mod:`netexplorer.path.tunnel`):
its hops on that host name that host's items by far keys
(:func:`netexplorer.overlay_peers.far_key`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from netexplorer.correlate import Correlation
from netexplorer.model import (
    Bridge,
    Chain,
    Container,
    Endpoint,
    Interface,
    Rule,
    Snapshot,
    bridge_key,
    interface_key,
)
from netexplorer.overlay_peers import HostRead
from netexplorer.path.mesh import MeshLeg, mesh_reply
from netexplorer.path.netfilter import ChainOutcome, Firewall, local_checker
from netexplorer.path.packet_state import IPAddress, NfPacket
from netexplorer.path.places import (
    Place,
    container_namespace,
    endpoint_with,
    host_namespace,
    netns_owner,
    resolve_destination,
    resolve_source,
    wiring_of,
)
from netexplorer.path.result import Hop, Packet, PathResult
from netexplorer.path.routing import Namespace, RouteDecision, lookup, select_source
from netexplorer.path.tunnel import (
    FarLanding,
    Tunnel,
    far_reply,
    ingress_sbox_hops,
    overlay_out,
    overlay_reply,
)

PROTOCOLS = ("icmp", "tcp", "udp")
#: the source port the engine gives a first TCP/UDP packet (any ephemeral port)
SOURCE_PORT = 40000


@dataclass
class _Host:
    """Per-read indexes, built once and reused while the read is the same object."""

    read: Snapshot
    fw: Firewall
    ns: Namespace
    local: frozenset[IPAddress]
    is_local: Callable[[IPAddress], bool]
    bridges: dict[str, Bridge]
    by_name: dict[str, Interface]
    #: bridge -> name of the --internal Docker network behind it
    internal: dict[str, str]

    @classmethod
    def of(cls, read: Snapshot) -> _Host:
        ns = host_namespace(read)
        return cls(
            read,
            Firewall.of(read),
            ns,
            ns.addresses,
            local_checker(ns.addresses),
            {b.name: b for b in read.bridges},
            {i.name: i for i in read.interfaces},
            {n.bridge: n.name for n in read.networks if n.internal and n.bridge},
        )

    @classmethod
    def inside(
        cls,
        read: Snapshot,
        ns: Namespace,
        rules: list[Rule],
        chains: list[Chain],
        by_name: dict[str, Interface],
    ) -> _Host:
        """Another network namespace of the host (a Docker namespace, a container's):
        its routing, its own firewall; ``by_name`` the interfaces whose keys its hops
        may name (none for a container's, whose interfaces have no keys of their own)."""
        return cls(
            read,
            Firewall.of_tables(rules, chains),
            ns,
            ns.addresses,
            local_checker(ns.addresses),
            {},
            by_name,
            {},
        )

    def iface_key(self, name: str | None) -> tuple[str, ...]:
        iface = self.by_name.get(name or "")
        return (iface.key,) if iface is not None else ()


#: the indexes of the last few reads (a path across hosts walks several)
_cache: list[tuple[Snapshot, _Host]] = []
_CACHED = 4


def _host_of(read: Snapshot) -> _Host:
    for seen, host in _cache:
        if seen is read:
            return host
    host = _Host.of(read)
    _cache[:] = [(read, host), *_cache[: _CACHED - 1]]
    return host


@dataclass
class _Conntrack:
    """The connection's NAT, to undo on the reply."""

    orig_src: IPAddress | None = None
    orig_dst: IPAddress | None = None
    orig_dport: int | None = None
    snat_to: IPAddress | None = None
    dnat_to: IPAddress | None = None
    #: a SNAT/MASQUERADE decided in POSTROUTING, applied once the egress is known
    pending_snat: tuple[str, dict[str, str]] | None = None


@dataclass
class _Walk:
    """One direction of the path: hops so far, the packet as it is now, the end."""

    host: _Host
    corr: Correlation
    pkt: NfPacket
    ct: _Conntrack
    reply: bool = False
    hops: list[Hop] = field(default_factory=list)
    verdict: str | None = None
    sentence: str = ""
    rule: Rule | None = None
    #: where the packet ended: in a container, on the host itself, or away
    #: (left the host); None while it travels or when it did not arrive
    landed: str | None = None
    landed_in: Container | None = None
    #: left through an overlay (landed "tunnel" or "overlay"): what the reply needs
    tunnel: Tunnel | None = None
    #: the other hosts' reads a tunnel may lead into
    others: tuple[HostRead, ...] = ()
    #: landed "far": the host and container it landed in through the tunnel
    far: FarLanding | None = None
    #: the service task the routing mesh's IPVS is followed to (name, id, address)
    task: str | None = None
    #: landed "mesh": what the reply through the routing mesh needs
    mesh: MeshLeg | None = None

    # ------------------------------------------------------------------ endings
    def end(self, verdict: str, sentence: str, rule: Rule | None = None) -> None:
        self.verdict, self.sentence, self.rule = verdict, sentence, rule

    def add(self, hop: Hop) -> None:
        self.hops.append(hop)

    def route_hop(
        self,
        where: str,
        dec: RouteDecision,
        ns: Namespace | None = None,
        keys: tuple[str, ...] | None = None,
    ) -> None:
        """The route lookup's decision for the packet's destination (on the host unless
        ``ns`` is given)."""
        title = f"{where}: {dec.describe(str(self.pkt.dst))}"
        in_ns = ns if ns is not None else self.host.ns
        self.add(Hop("route", title, _derived(dec, in_ns), keys or self.host.iface_key(dec.dev)))

    # ------------------------------------------------------------------ container side
    def from_container(self, ct: Container, ns: Namespace) -> None:
        dec = lookup(ns, self.pkt.dst, None)
        keys = (ct.key,)
        self.route_hop(f"route in {ct.name}", dec, ns, keys)
        if dec.type == "local":
            self.add(
                Hop(
                    "deliver",
                    f"delivered inside {ct.name} (its own address)",
                    keys=keys,
                    verdict="delivered",
                )
            )
            self.landed, self.landed_in = "container", ct
            return self.end("delivered", f"{self.pkt.dst} is {ct.name}'s own address")
        if dec.type != "unicast":
            internal = _internal_networks(self.host.read, ct)
            if internal and not self.reply:
                return self.end(
                    "internal",
                    f"{ct.name} is only on internal network(s) {', '.join(internal)}: "
                    "no route leaves them",
                )
            return self.end("no-route", f"{ct.name} has no route to {self.pkt.dst}")
        if self.pkt.src.is_unspecified and dec.src:
            self.pkt = self.pkt.at(src=ipaddress.ip_address(dec.src))
            self.ct.orig_src = self.pkt.src
        owner_ep = _endpoint_for(ct, ns, dec, self.corr)
        if owner_ep is None:
            return self.end(
                "uncertain",
                f"the interface {dec.dev} of {ct.name} is not a Docker endpoint the read knows",
            )
        on_overlay = self.corr.overlay.of_endpoint(owner_ep.key)
        if on_overlay is not None:
            return overlay_out(self, ct, owner_ep, dec, *on_overlay)
        wiring = wiring_of(self.corr, owner_ep)
        veth_key = (interface_key(wiring.host_ifindex),) if wiring.host_ifindex is not None else ()
        self.add(
            Hop(
                "veth",
                f"{dec.dev or 'eth'}@if{wiring.host_ifindex} of {ct.name} -> veth pair -> "
                f"{wiring.host_veth or '?'}@if{wiring.peer_ifindex} on the host"
                + (f", a port of {wiring.bridge}" if wiring.bridge else ""),
                f"{owner_ep.key} peer if{wiring.peer_ifindex}",
                (owner_ep.key, *veth_key),
            )
        )
        if not wiring.bridge:
            return self.end(
                "uncertain",
                f"{ct.name}'s endpoint on {owner_ep.network} is not on a bridge the engine follows",
            )
        bridge = self.host.bridges.get(wiring.bridge)
        br_keys = (
            bridge_key(wiring.bridge),
            owner_ep.network_key,
            *self.host.iface_key(wiring.bridge),
        )
        nexthop = ipaddress.ip_address(dec.gateway) if dec.gateway else self.pkt.dst
        if nexthop in _bridge_addresses(self.host, wiring.bridge):
            self.add(
                Hop(
                    "bridge",
                    f"{wiring.bridge}: to the host ({nexthop} is the bridge's address)",
                    keys=br_keys,
                )
            )
            return self.host_receive(wiring.bridge, wiring.host_veth)
        peer = endpoint_with(self.corr, nexthop)
        if peer is not None and wiring_of(self.corr, peer[1]).bridge == wiring.bridge:
            return self.bridged(wiring.bridge, wiring.host_veth, peer, br_keys)
        del bridge
        self.add(
            Hop(
                "drop",
                f"{wiring.bridge}: nothing on the bridge answers ARP for {nexthop}",
                keys=br_keys,
                verdict="dropped",
            )
        )
        return self.end("dropped", f"no container or host address on {wiring.bridge} is {nexthop}")

    def bridged(
        self,
        bridge: str,
        veth_in: str | None,
        peer: tuple[Container, Endpoint],
        keys: tuple[str, ...],
    ) -> None:
        ct, ep = peer
        wiring = wiring_of(self.corr, ep)
        self.add(
            Hop(
                "bridge",
                f"{bridge}: bridged (L2) from {veth_in} to {wiring.host_veth} ({ct.name})",
                keys=(*keys, ep.key),
            )
        )
        name = (
            "net.bridge.bridge-nf-call-iptables"
            if self.pkt.family == 4
            else "net.bridge.bridge-nf-call-ip6tables"
        )
        sysctls = self.host.read.sysctls
        value = sysctls.get(name)
        if value is None and not sysctls:
            self.add(
                Hop(
                    "uncertain", f"br_netfilter: unknown ({name} was not read)", verdict="uncertain"
                )
            )
            return self.end(
                "uncertain",
                f"whether bridged traffic passes iptables is unknown: {name} was not read",
            )
        if value == "1":
            self.add(Hop("hook", f"br_netfilter: bridged packets pass iptables ({name}=1)"))
            self.pkt = self.pkt.at(iif=bridge, oif="", physin=veth_in, physout=None)
            if not self.hook("PREROUTING"):
                return None
            self.pkt = self.pkt.at(oif=bridge, physout=wiring.host_veth)
            if not self.hook("FORWARD") or not self.hook("POSTROUTING"):
                return None
        else:
            why = "br_netfilter is not loaded" if value is None else f"{name}={value}"
            self.add(Hop("hook", f"bridged packets skip iptables ({why})"))
        return self.deliver_to(ct, ep)

    def deliver_to(self, ct: Container, ep: Endpoint) -> None:
        wiring = wiring_of(self.corr, ep)
        veth = (interface_key(wiring.host_ifindex),) if wiring.host_ifindex is not None else ()
        inside = _inside_name(ct, ep, self.corr)
        self.add(
            Hop(
                "veth",
                f"{wiring.host_veth or '?'}@if{wiring.peer_ifindex} -> veth pair -> "
                f"{inside}@if{wiring.host_ifindex} of {ct.name}",
                keys=(*veth, ep.key),
            )
        )
        self.add(
            Hop(
                "deliver",
                f"delivered to {ct.name} ({self.pkt.dst})",
                keys=(ct.key, ep.key),
                verdict="delivered",
            )
        )
        self.landed, self.landed_in = "container", ct
        self.end("delivered", f"delivered to {ct.name} as {self.describe()}")

    # ------------------------------------------------------------------ host side
    def hook(self, hook: str, skip_nat: bool = False) -> bool:
        """Run the base chains at ``hook``; False when the packet ends there."""
        outcomes = self.host.fw.run_hook(hook, self.pkt, self.host.is_local, skip_nat)
        for o in outcomes:
            self.add(_chain_hop(hook, o, self.pkt, self.host.fw.both_iptables))
            if o.mark != self.pkt.mark:
                self.pkt = self.pkt.at(mark=o.mark)
            if o.nat is not None:
                self.apply_nat(hook, o)
        last = outcomes[-1] if outcomes else None
        if last is None or last.verdict == "ACCEPT":
            return True
        where = last.chain.label(self.host.fw.both_iptables)
        if last.verdict == "UNDECIDED":
            self.end("uncertain", f"{where}: cannot decide {last.undecided}", last.rule)
        elif last.verdict == "REJECT":
            self.end("rejected", f"rejected in {where} by {_rule_words(last)}", last.rule)
        else:
            net = self.host.internal.get(self.pkt.iif) or self.host.internal.get(self.pkt.oif)
            if net is not None and self.pkt.iif != self.pkt.oif:
                self.end(
                    "internal",
                    f"{net} is an --internal network: nothing leaves or enters it; "
                    f"dropped in {where} by {_rule_words(last)}",
                    last.rule,
                )
            else:
                self.end("dropped", f"dropped in {where} by {_rule_words(last)}", last.rule)
        return False

    def apply_nat(self, hook: str, o: ChainOutcome) -> None:
        assert o.nat is not None
        target, options = o.nat
        if target in ("DNAT", "REDIRECT"):
            if target == "REDIRECT":
                to_addr = "127.0.0.1" if hook == "OUTPUT" else None
                port = options.get("--to-ports")
                addr = ipaddress.ip_address(to_addr) if to_addr else self.pkt.dst
            else:
                addr, port = _nat_to(options.get("--to-destination", ""), self.pkt.dst)
            self.ct.orig_dst, self.ct.orig_dport = self.pkt.dst, self.pkt.dport
            self.ct.dnat_to = addr
            new_port = int(port) if port and str(port).isdigit() else self.pkt.dport
            self.pkt = self.pkt.at(dst=addr, dport=new_port, ctstate=self.pkt.ctstate | {"DNAT"})
        elif target in ("SNAT", "MASQUERADE"):
            self.ct.pending_snat = (target, options)

    def host_receive(self, iif: str, physin: str | None = None) -> None:
        """A packet arriving on the host's interface ``iif``."""
        self.pkt = self.pkt.at(iif=iif, oif="", physin=None, physout=None)
        del physin
        if self.reply:
            self.undo_snat()
        if not self.hook("PREROUTING"):
            return None
        dec = lookup(self.host.ns, self.pkt.dst, self.pkt.src, iif)
        self.route_hop("route on the host", dec)
        if dec.type == "local":
            if not self.hook("INPUT"):
                return None
            if self.reply:
                self.undo_dnat()
            return self.local_delivery()
        if dec.type != "unicast":
            return self.end("no-route", f"the host has no route to {self.pkt.dst}")
        name = "net.ipv4.ip_forward" if self.pkt.family == 4 else "net.ipv6.conf.all.forwarding"
        if self.host.read.sysctls.get(name) == "0":
            self.add(Hop("drop", f"not forwarded: {name}=0", verdict="forwarding-disabled"))
            return self.end(
                "forwarding-disabled",
                f"the host does not forward ({name}=0); the fix: sysctl -w {name}=1",
            )
        self.pkt = self.pkt.at(oif=dec.dev or "")
        if not self.hook("FORWARD"):
            return None
        return self.leave(dec)

    def host_send(self) -> None:
        """A packet the host itself sends (a socket on the host or a --network host container)."""
        dec = lookup(self.host.ns, self.pkt.dst)
        self.route_hop("route on the host", dec)
        if dec.type not in ("unicast", "local"):
            return self.end("no-route", f"the host has no route to {self.pkt.dst}")
        if self.pkt.src.is_unspecified and dec.src:
            self.pkt = self.pkt.at(src=ipaddress.ip_address(dec.src))
            if not self.reply:
                self.ct.orig_src = self.pkt.src
        self.pkt = self.pkt.at(iif="", oif=dec.dev or "lo")
        before = self.pkt.dst
        if not self.hook("OUTPUT"):
            return None
        if self.pkt.dst != before:
            dec = lookup(self.host.ns, self.pkt.dst)
            self.route_hop("rerouted after DNAT", dec)
            self.pkt = self.pkt.at(oif=dec.dev or "lo")
            if dec.type not in ("unicast", "local"):
                return self.end("no-route", f"the host has no route to {self.pkt.dst}")
        if dec.type == "local":
            if not self.hook("POSTROUTING"):
                return None
            self.pkt = self.pkt.at(iif="lo", oif="")
            if not self.hook("PREROUTING", skip_nat=True) or not self.hook("INPUT", skip_nat=True):
                return None
            return self.local_delivery()
        return self.leave(dec)

    def leave(self, dec: RouteDecision) -> None:
        """POSTROUTING, then out of ``dec.dev``: into a bridge's container or away."""
        if not self.hook("POSTROUTING"):
            return None
        pending = self.ct.pending_snat
        if pending is not None and not self.reply:
            target, options = pending
            self.apply_snat(target, options, dec)
        if self.reply:
            self.undo_dnat()
        oif = dec.dev or ""
        keys = self.host.iface_key(oif)
        if oif in self.host.bridges:
            nexthop = ipaddress.ip_address(dec.gateway) if dec.gateway else self.pkt.dst
            found = endpoint_with(self.corr, nexthop)
            if found is None and ingress_sbox_hops(self, oif, nexthop):
                return None
            if found is None or wiring_of(self.corr, found[1]).bridge != oif:
                self.add(
                    Hop(
                        "drop",
                        f"{oif}: nothing on the bridge answers ARP for {nexthop}",
                        keys=(bridge_key(oif), *keys),
                        verdict="dropped",
                    )
                )
                return self.end("dropped", f"no container on {oif} has the address {nexthop}")
            self.add(
                Hop(
                    "bridge",
                    f"{oif}: to {found[0].name}'s port {wiring_of(self.corr, found[1]).host_veth}",
                    keys=(bridge_key(oif), found[1].network_key, *keys),
                )
            )
            return self.deliver_to(*found)
        via = f" via {dec.gateway}" if dec.gateway else ""
        self.add(
            Hop(
                "egress",
                f"leaves the host on {oif}{via} as {self.describe()}",
                keys=keys,
                verdict="delivered",
            )
        )
        self.landed = "away"
        self.end("delivered", f"leaves the host on {oif}{via} as {self.describe()}")

    def apply_snat(self, target: str, options: dict[str, str], dec: RouteDecision) -> None:
        if target == "MASQUERADE":
            iface = self.host.by_name.get(dec.dev or "")
            src = select_source(
                iface.addresses if iface else [], dec.gateway or str(self.pkt.dst), self.pkt.family
            )
            addr = ipaddress.ip_address(src) if src else self.pkt.src
        else:
            addr, _ = _nat_to(options.get("--to-source", ""), self.pkt.src)
        self.ct.snat_to = addr
        self.pkt = self.pkt.at(src=addr, ctstate=self.pkt.ctstate | {"SNAT"})
        for i in range(len(self.hops) - 1, -1, -1):
            hop = self.hops[i]
            if hop.kind == "nat" and " -> source " not in hop.title:
                self.hops[i] = replace(hop, title=f"{hop.title} -> source {addr}")
                break

    def undo_snat(self) -> None:
        orig = self.ct.orig_src
        if self._undoes("SNAT", "destination", self.pkt.dst, self.ct.snat_to, orig):
            self.pkt = self.pkt.at(dst=orig)

    def undo_dnat(self) -> None:
        orig = self.ct.orig_dst
        if self._undoes("DNAT", "source", self.pkt.src, self.ct.dnat_to, orig):
            self.pkt = self.pkt.at(src=orig, sport=self.ct.orig_dport)

    def _undoes(
        self,
        nat: str,
        side: str,
        now: IPAddress,
        translated: IPAddress | None,
        orig: IPAddress | None,
    ) -> bool:
        """The reply carries the translated address: conntrack gives back ``orig``."""
        if translated is None or orig is None or now != translated:
            return False
        self.add(Hop("nat", f"conntrack undoes the {nat}: {side} {now} -> {orig}"))
        return True

    def local_delivery(self) -> None:
        port = self.pkt.dport
        who = ""
        if port is not None:
            owners = [
                c.name
                for c in self.host.read.containers
                for p in c.published_ports
                if p.host_port == port and p.protocol == self.pkt.proto
            ]
            if owners:
                names = ", ".join(sorted(set(owners)))
                who = f" (port {port} is published by {names}: docker-proxy listens there)"
        self.add(
            Hop(
                "deliver",
                f"delivered to the host ({self.pkt.dst}){who}",
                keys=self.host.iface_key("lo"),
                verdict="delivered",
            )
        )
        self.landed = "host"
        self.end("delivered", f"delivered to the host at {self.pkt.dst}{who}")

    def describe(self) -> str:
        p = self.pkt
        if p.dport is None:
            return f"{p.proto} {p.src} -> {p.dst}"
        return f"{p.proto} {p.src}:{p.sport} -> {p.dst}:{p.dport}"


# --------------------------------------------------------------------------- helpers
def _derived(dec: RouteDecision, ns: Namespace) -> str:
    parts = []
    if dec.rule is not None:
        parts.append(f"policy rule {dec.rule.priority}: lookup {dec.table}")
    if ns.derived:
        parts.append("routes not read: derived from addresses and Docker's gateway")
    return "; ".join(parts)


def _nat_to(text: str, default: IPAddress) -> tuple[IPAddress, str | None]:
    """``1.2.3.4:80``, ``[fd00::2]:80``, ``1.2.3.4-1.2.3.9`` (first), ``:8080`` (port only)."""
    text = text.strip()
    port: str | None = None
    if text.startswith("["):
        addr_text, _, rest = text[1:].partition("]")
        port = rest.lstrip(":") or None
    elif text.count(":") == 1:
        addr_text, _, port = text.partition(":")
    else:
        addr_text = text
    addr_text = addr_text.split("-", 1)[0]
    port = port.split("-", 1)[0] if port else None
    try:
        return ipaddress.ip_address(addr_text), port
    except ValueError:
        return default, port


def _rule_words(o: ChainOutcome) -> str:
    if o.rule is None:
        return f"the policy {o.verdict}"
    return f"rule {o.rule.position} of {o.rule.chain}: {o.rule.text}"


def _chain_hop(hook: str, o: ChainOutcome, pkt: NfPacket, with_backend: bool) -> Hop:
    trail = tuple(r.key for r in o.trail)
    label = o.chain.label(with_backend)
    backend = o.chain.backend
    where = f"{backend} {o.chain.family} {o.chain.table} {o.chain.name}"
    detail = "; ".join(
        [f"{backend}, hook {hook}, packet {pkt.iif or '-'} -> {pkt.oif or '-'} {_ct(pkt)}"]
        + [f"matched: {' | '.join(r.text for r in o.trail)}"] * bool(o.trail)
        + list(o.noted)
    )
    if o.verdict == "UNDECIDED":
        return Hop(
            "uncertain",
            f"{label}: cannot decide {o.undecided}",
            detail,
            (o.rule.key,) if o.rule else (),
            "uncertain",
            o.rule.key if o.rule else None,
            trail=trail,
            chain=where,
        )
    marked = [r for r in o.trail if r.target == "MARK"]
    if o.rule is None and marked and o.mark is not None:
        # the chain's verdict is its policy; what it did to the packet is the mark
        m = marked[-1]
        title = f"{label}: MARK by {m.text} (mark {o.mark:#x}), then policy {o.verdict}"
        keys = (m.key, *(k for k in trail if k != m.key))
        return Hop(
            "rule", title, detail, keys, o.verdict, m.key, m.packets, m.bytes, trail, where, o.ends
        )
    if o.rule is None:
        title = f"{label}: policy {o.verdict}"
        return Hop("policy", title, detail, trail, o.verdict, trail=trail, chain=where, ends=o.ends)
    kind = "nat" if o.nat is not None else "rule"
    verdict = o.nat[0] if o.nat is not None else o.verdict
    title = f"{label}: {verdict} by {o.rule.text}"
    if o.nat is not None and o.nat[0] in ("DNAT", "REDIRECT"):
        title += (
            f" -> destination {o.nat[1].get('--to-destination') or o.nat[1].get('--to-ports', '')}"
        )
    keys = (o.rule.key, *(k for k in trail if k != o.rule.key))
    return Hop(
        kind,
        title,
        detail,
        keys,
        verdict,
        o.rule.key,
        o.rule.packets,
        o.rule.bytes,
        trail,
        where,
        o.ends,
    )


def _ct(pkt: NfPacket) -> str:
    states = sorted(s for s in pkt.ctstate if not s.startswith("_"))
    return f"ctstate {','.join(states)}"


def _internal_networks(read: Snapshot, ct: Container) -> list[str]:
    nets = {n.id: n for n in read.networks}
    found = [nets[e.network_id] for e in ct.endpoints if e.network_id in nets]
    return [n.name for n in found if n.internal] if found and all(n.internal for n in found) else []


def _bridge_addresses(host: _Host, bridge: str) -> set[IPAddress]:
    iface = host.by_name.get(bridge)
    out: set[IPAddress] = set()
    for a in iface.addresses if iface else []:
        try:
            out.add(ipaddress.ip_address(a.address))
        except ValueError:
            continue
    return out


def _endpoint_for(
    ct: Container, ns: Namespace, dec: RouteDecision, corr: Correlation
) -> Endpoint | None:
    """The Docker endpoint behind the container interface a route leaves by."""
    iface = next(
        (
            i
            for i in ns.interfaces
            if (dec.dev and i.name == dec.dev)
            or (dec.ifindex is not None and i.ifindex == dec.ifindex)
        ),
        None,
    )
    if iface is None:
        return None
    addrs = {a.address for a in iface.addresses}
    for ep in ct.endpoints:
        if (ep.ipv4 and ep.ipv4 in addrs) or (ep.ipv6 and ep.ipv6 in addrs):
            return ep
        peer = corr.wiring(ep).peer_ifindex
        if peer is not None and peer == iface.ifindex:
            return ep
    return None


def _inside_name(ct: Container, ep: Endpoint, corr: Correlation) -> str:
    peer = corr.wiring(ep).peer_ifindex
    if ct.inside is not None:
        for iface in ct.inside.interfaces:
            if peer is not None and iface.ifindex == peer:
                return iface.name
            if any(a.address in (ep.ipv4, ep.ipv6) for a in iface.addresses):
                return iface.name
    return f"if{peer}" if peer is not None else "its interface"


# --------------------------------------------------------------------------- entry point
def trace_path(
    read: Snapshot,
    corr: Correlation,
    src: str,
    dst: str,
    proto: str = "icmp",
    port: int | None = None,
    others: Sequence[HostRead] = (),
    task: str | None = None,
) -> PathResult:
    """The path of one packet from ``src`` to ``dst`` (and of its reply) on ``read``;
    through a swarm tunnel it goes on into the read of ``others`` that holds its far
    end (the other hosts being explored), else it stops at the tunnel and says so.
    Through the swarm's routing mesh, ``task`` names the service task to follow
    (a container name, id prefix or its address on the ingress network); without
    it the first real server a local container holds.

    Raises :class:`~netexplorer.path.result.UnknownName` for a name that is none
    of a container, ``host``, ``internet``, an address or ``HOST:PORT``, and
    ValueError for a protocol other than icmp, tcp, udp or a tcp/udp path without
    a port.
    """
    host = _host_of(read)
    source = resolve_source(read, src, corr)
    family = 6 if ":" in dst.strip("[]").split("]")[0] and dst.count(":") > 1 else None
    target = resolve_destination(read, corr, dst, source, family)
    if target.proto and proto == "icmp":
        proto = target.proto
    port = target.port if target.port is not None else port
    if proto not in PROTOCOLS:
        raise ValueError(f"protocol {proto!r}: one of {', '.join(PROTOCOLS)}")
    if proto != "icmp" and port is None:
        raise ValueError(f"a {proto} path needs a port (--port N or HOST:PORT)")
    if proto == "icmp":
        port = None
    version = target.address.version
    unspecified = ipaddress.ip_address("0.0.0.0" if version == 4 else "::")
    start = source.address if source.kind == "outside" and source.address else unspecified
    if source.kind == "host" and source.address is not None:
        start = source.address
    pkt = NfPacket(
        family=version,
        proto=proto,
        src=start,
        dst=target.address,
        sport=SOURCE_PORT if port is not None else None,
        dport=port,
        icmp_type=(8 if version == 4 else 128) if proto == "icmp" else None,
        tcp_flags=frozenset({"SYN"}) if proto == "tcp" else frozenset(),
    )
    ct = _Conntrack(
        orig_src=None if start.is_unspecified else start, orig_dst=target.address, orig_dport=port
    )
    walk = _Walk(host, corr, pkt, ct, others=tuple(others), task=task)
    _start(walk, source)
    if walk.verdict is None:
        walk.end("uncertain", "the path could not be followed to its end")
    sent = Packet(
        version, proto, str(ct.orig_src or walk.pkt.src), str(target.address), pkt.sport, port
    )
    final = Packet(
        version, proto, str(walk.pkt.src), str(walk.pkt.dst), walk.pkt.sport, walk.pkt.dport
    )
    reply: tuple[Hop, ...] = ()
    reply_verdict = None
    if walk.verdict == "delivered":
        back = _reply(walk)
        reply, reply_verdict = tuple(back.hops), back.verdict
    verdict = walk.verdict or "uncertain"
    sentence = f"{source.label} -> {target.label}: {verdict}: {walk.sentence}"
    if reply_verdict is not None and reply_verdict != "delivered":
        sentence += f"; the reply is not: {reply_verdict} ({back.sentence})"
    return PathResult(
        source=source.label,
        destination=target.label,
        packet=sent,
        hops=tuple(walk.hops),
        reply=reply,
        verdict=verdict,
        sentence=sentence,
        rule=walk.rule.key if walk.rule else None,
        delivered_as=final if verdict == "delivered" else None,
        reply_verdict=reply_verdict,
    )


def _start(walk: _Walk, place: Place) -> None:
    read = walk.host.read
    if place.kind == "container" and place.container is not None:
        owner = netns_owner(read, place.container)
        ns = place.netns or container_namespace(owner, walk.corr)
        if place.container.state != "running":
            return walk.end(
                "no-route", f"{place.container.name} is not running ({place.container.state})"
            )
        return walk.from_container(owner, ns)
    if place.kind == "host":
        return walk.host_send()
    assert place.address is not None
    dec = lookup(walk.host.ns, place.address)
    if dec.type != "unicast" or not dec.dev:
        return walk.end(
            "no-route",
            f"the host has no route back to {place.address}, so it cannot arrive from there",
        )
    walk.add(
        Hop(
            "egress",
            f"arrives from {place.address} on {dec.dev}",
            keys=walk.host.iface_key(dec.dev),
        )
    )
    return walk.host_receive(dec.dev)


def _reply(fwd: _Walk) -> _Walk:
    p = fwd.pkt
    reply = NfPacket(
        family=p.family,
        proto=p.proto,
        src=p.dst,
        dst=p.src,
        sport=p.dport,
        dport=p.sport,
        ctstate=frozenset({"ESTABLISHED"} | (p.ctstate & {"DNAT", "SNAT"})),
        icmp_type=(0 if p.family == 4 else 129) if p.proto == "icmp" else None,
        tcp_flags=frozenset({"SYN", "ACK"}) if p.proto == "tcp" else frozenset(),
    )
    back = _Walk(fwd.host, fwd.corr, reply, fwd.ct, reply=True, others=fwd.others)
    if fwd.landed == "far":
        far_reply(back, fwd)
    elif fwd.landed == "mesh":
        mesh_reply(back, fwd)
    elif fwd.landed == "mesh-tunnel":
        back.end("uncertain", "the reply from a task on another node is not followed")
    elif fwd.landed == "container" and fwd.landed_in is not None:
        ct = netns_owner(fwd.host.read, fwd.landed_in)
        back.from_container(ct, container_namespace(ct, fwd.corr))
    elif fwd.landed == "host":
        back.host_send()
    elif fwd.landed in ("tunnel", "overlay"):
        overlay_reply(back, fwd)
    else:
        dec = lookup(fwd.host.ns, p.dst)
        back.add(
            Hop(
                "egress",
                f"the reply arrives from {p.dst} on {dec.dev}",
                keys=fwd.host.iface_key(dec.dev),
            )
        )
        back.host_receive(dec.dev or "")
    if back.verdict is None:
        back.end("uncertain", "the reply could not be followed to its end")
    return back
