"""Swarm tunnels across the hosts being explored: a pure function over several reads.

With several hosts open (``--host a --host b``), each node's overlay names its
peers only by address: a VTEP in the vxlan FDB is the other node's underlay
address, and the FDB's MACs are the other node's containers on that network. When
that other node is one of the hosts read, :func:`far_ends` joins the two: the
tunnel's far end is that host's vxlan device (same overlay network id, which is
swarm-wide) and the containers whose endpoint MAC the FDB sends there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netexplorer.correlate import Correlation
from netexplorer.model import Snapshot
from netexplorer.overlay import OverlayNet


@dataclass(frozen=True, slots=True)
class HostRead:
    """One host's read, named as the hosts pane names it."""

    name: str
    read: Snapshot
    correlation: Correlation


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
    containers = tuple(
        (ct.name, ep.ipv4 or ep.ipv6 or "")
        for ct in there.read.containers
        for ep in ct.endpoints
        if ep.network_id == o.network.id and ep.mac and ep.mac.lower() in macs
    )
    vx = far.vxlan if far is not None else None
    ns = far.namespace if far is not None else None
    return FarEnd(
        o.network.name,
        o.vni,
        vtep,
        there.name,
        vx.key if vx is not None else None,
        vx.name if vx is not None else None,
        ns.name if ns is not None else None,
        containers,
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
