"""The packet as netfilter sees it at one hook: addresses, ports, interfaces, conntrack."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class NfPacket:
    """One packet at a netfilter hook.

    ``iif``/``oif`` are "" where the hook has none (no output interface before
    routing); ``physin``/``physout`` the bridge ports of a bridged packet
    (br_netfilter), else None. ``ctstate`` holds conntrack's state for it (NEW
    for a first packet, ESTABLISHED for a reply) plus DNAT/SNAT once the
    connection is translated; ``icmp_type`` 8/0 (IPv4) or 128/129 (IPv6) for an
    echo request/reply. ``mark`` is the packet's firewall mark where the walk
    knows it (in a namespace whose every MARK rule was read: 0 to start with),
    None where it does not (``-m mark`` then cannot be decided); ``ipvs`` whether
    the packet belongs to an IPVS connection (``-m ipvs --ipvs``), None where the
    namespace's IPVS table was not read.
    """

    family: int
    proto: str
    src: IPAddress
    dst: IPAddress
    sport: int | None
    dport: int | None
    iif: str = ""
    oif: str = ""
    physin: str | None = None
    physout: str | None = None
    ctstate: frozenset[str] = frozenset({"NEW"})
    icmp_type: int | None = None
    #: TCP flags of the packet: {"SYN"} for a first packet, {"SYN", "ACK"} for its reply
    tcp_flags: frozenset[str] = frozenset()
    mark: int | None = None
    ipvs: bool | None = None
    #: an overlay's encapsulating UDP packet: the VNI in its VXLAN header (``-m u32``
    #: on it, Docker's rules for an encrypted overlay); None for other packets
    vni: int | None = None
    #: whether it arrived through IPsec (``-m policy --dir in``): None when unknown
    ipsec: bool | None = None

    @property
    def new(self) -> bool:
        return "NEW" in self.ctstate

    def at(self, **changes: object) -> NfPacket:
        return replace(self, **changes)  # type: ignore[arg-type]
