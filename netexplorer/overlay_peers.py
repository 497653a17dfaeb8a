"""Swarm tunnels across the hosts being explored: a pure function over several reads.

With several hosts open (``--host a --host b``), each node's overlay names its
peers only by address: a VTEP in the vxlan FDB is the other node's underlay
address, and the FDB's MACs are the other node's containers on that network. When
that other node is one of the hosts read, :func:`far_ends` joins the two: the
tunnel's far end is that host's vxlan device (same overlay network id, which is
swarm-wide) and the containers whose endpoint MAC the FDB sends there.

The other host's items are named here by :func:`far_key` (``far:<key>@<host>``),
never by their own keys, which may equal this host's. :func:`join` also gives the
links between them and this host's tunnel (its vxlan, underlay, network), so one
selection reaches across: the far container lights the tunnel, and the tunnel the
far vxlan, br0, veth and container.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from netexplorer.correlate import Correlation, Links
from netexplorer.model import Snapshot
from netexplorer.overlay import OverlayNet


@dataclass(frozen=True, slots=True)
class HostRead:
    """One host's read, named as the hosts pane names it."""

    name: str
    read: Snapshot
    correlation: Correlation


#: the kind of a :func:`far_key` (KIND_NAMES: "on another host")
FAR = "far"


def far_key(host: str, key: str) -> str:
    """The key this host's views give ``key`` of host ``host``'s read."""
    return f"{FAR}:{key}@{host}"


@dataclass(frozen=True, slots=True)
class FarMember:
    """A container on the far side of a tunnel and its veth on br0 there (keys are
    the far host's own: :meth:`FarEnd.key` names them here)."""

    name: str
    address: str
    container_key: str
    port: str | None
    port_key: str | None


@dataclass(frozen=True, slots=True)
class FarEnd:
    """Where one VTEP of one overlay on this host leads: a host being explored."""

    network: str
    vni: int | None
    vtep: str
    #: the host whose underlay address the VTEP is
    host: str
    #: its vxlan device on the same overlay (None: that host has no such namespace read)
    vxlan_key: str | None
    vxlan: str | None
    namespace: str | None
    #: (name, address) of its containers the FDB sends to
    containers: tuple[tuple[str, str], ...]
    #: br0 there, and the containers with their veth on it
    bridge: str | None = None
    bridge_key: str | None = None
    members: tuple[FarMember, ...] = ()

    def key(self, key: str) -> str:
        """One of the far host's keys as this host's views name it."""
        return far_key(self.host, key)

    def names(self) -> dict[str, str]:
        """Far key -> name of each far item: the vxlan, br0, each container and veth."""
        where = f"{self.namespace} on {self.host}"
        out = {}
        if self.vxlan_key is not None:
            out[self.key(self.vxlan_key)] = f"{self.vxlan} (VNI {self.vni}) in {where}"
        if self.bridge_key is not None:
            out[self.key(self.bridge_key)] = f"{self.bridge} in {where}"
        for m in self.members:
            out[self.key(m.container_key)] = f"{m.name} ({m.address}) on {self.host}"
            if m.port_key is not None:
                out[self.key(m.port_key)] = f"{m.port} on {self.bridge or 'br0'} in {where}"
        return out

    def words(self) -> str:
        """One line for people (raw host text: callers make it literal)."""
        cts = ", ".join(f"{n} ({a})" for n, a in self.containers) or "no container found"
        where = f"{self.vxlan} in {self.namespace}" if self.vxlan else "its vxlan not read"
        return (
            f"tunnel {self.network} (VNI {self.vni}) to VTEP {self.vtep} = host {self.host}: "
            f"{where}; {cts}"
        )


def _addresses(read: Snapshot) -> set[str]:
    out = {a.address for i in read.interfaces for a in i.addresses}
    if read.swarm is not None and read.swarm.node_addr:
        out.add(read.swarm.node_addr)
    return out


def _far_end(o: OverlayNet, vtep: str, macs: Sequence[str], there: HostRead) -> FarEnd:
    far = there.correlation.overlay.networks.get(o.network.id)
    ports = {p.owner_key: p.port for p in far.ports} if far is not None else {}
    members = tuple(
        FarMember(
            ct.name,
            ep.ipv4 or ep.ipv6 or "",
            ct.key,
            ports[ct.key].name if ct.key in ports else None,
            ports[ct.key].key if ct.key in ports else None,
        )
        for ct in there.read.containers
        for ep in ct.endpoints
        if ep.network_id == o.network.id and ep.mac and ep.mac.lower() in macs
    )
    vx = far.vxlan if far is not None else None
    ns = far.namespace if far is not None else None
    br = far.bridge if far is not None else None
    return FarEnd(
        o.network.name,
        o.vni,
        vtep,
        there.name,
        vx.key if vx is not None else None,
        vx.name if vx is not None else None,
        ns.name if ns is not None else None,
        tuple((m.name, m.address) for m in members),
        br.name if br is not None else None,
        br.key if br is not None else None,
        members,
    )


def far_ends(here: HostRead, others: Sequence[HostRead]) -> dict[str, list[FarEnd]]:
    """Model key on ``here`` -> the far ends it leads to among ``others``: keyed by the
    vxlan device, its network, and each local container and endpoint on the overlay."""
    by_addr = {addr: h for h in others for addr in _addresses(h.read)}
    out: dict[str, list[FarEnd]] = {}
    for o in here.correlation.overlay.networks.values():
        ends = []
        for v in o.vteps:
            there = by_addr.get(v.ip)
            if there is not None:
                ends.append(_far_end(o, v.ip, [m.lower() for m in v.macs], there))
        if not ends:
            continue
        keys = [o.network.key] + ([o.vxlan.key] if o.vxlan is not None else [])
        for ct in here.read.containers:
            for ep in ct.endpoints:
                if ep.network_id == o.network.id:
                    keys += [ct.key, ep.key]
        for key in keys:
            out.setdefault(key, []).extend(ends)
    return out


def host_holding(address: str, others: Sequence[HostRead]) -> HostRead | None:
    """The host among ``others`` whose underlay (or swarm) address ``address`` is."""
    return next((h for h in others if address in _addresses(h.read)), None)


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Joined:
    """This host's read joined to the other hosts': where its tunnels lead, and the
    links and names that let one selection reach across (see the module docstring)."""

    ends: Mapping[str, list[FarEnd]] = field(default_factory=dict)
    pairs: tuple[tuple[str, str], ...] = ()
    labels: Mapping[str, str] = field(default_factory=_empty)
    #: far key -> the lines the details show for it
    notes: Mapping[str, list[str]] = field(default_factory=dict)

    def links(self, base: Links) -> Links:
        """``base`` with the far items linked in (``base`` itself when there are none)."""
        return base.extended(self.pairs, self.labels, self.notes) if self.pairs else base


def join(here: HostRead, others: Sequence[HostRead]) -> Joined:
    """:func:`far_ends` of ``here`` among ``others``, with the cross-host links: the
    far vxlan, br0, veths and containers each linked to this host's vxlan, and each
    far container to this host's underlay interface and network, and to its own
    veth, br0 and vxlan there; each of this host's containers on the overlay to the
    far vxlan (where its packets to the far containers arrive)."""
    ends = far_ends(here, others)
    pairs: list[tuple[str, str]] = []
    labels: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    for o in here.correlation.overlay.networks.values():
        if o.vxlan is None or o.vxlan.key not in ends:
            continue
        local = [
            ct.key
            for ct in here.read.containers
            if any(ep.network_id == o.network.id for ep in ct.endpoints)
        ]
        for end in ends[o.vxlan.key]:
            devices = [end.key(k) for k in (end.vxlan_key, end.bridge_key) if k is not None]
            pairs += [(o.vxlan.key, k) for k in devices]
            if end.vxlan_key is not None:
                pairs += [(ct, end.key(end.vxlan_key)) for ct in local]
            for m in end.members:
                ct = end.key(m.container_key)
                own = [*devices, *([end.key(m.port_key)] if m.port_key is not None else [])]
                pairs += [(o.vxlan.key, k) for k in own[len(devices) :]]
                pairs += [(ct, k) for k in own]
                pairs += [(ct, o.vxlan.key), (ct, o.network.key)]
                if o.underlay is not None:
                    pairs.append((ct, o.underlay.key))
            named = end.names()
            labels.update(named)
            for k in named:
                notes.setdefault(k, []).append(end.words())
    return Joined(ends, tuple(pairs), MappingProxyType(labels), notes)
