"""What the path engine returns: the packet, its hops in kernel order, a verdict."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

#: every verdict a path can end in
VERDICTS = (
    "delivered",
    "dropped",
    "rejected",
    "no-route",
    "forwarding-disabled",
    "internal",
    "uncertain",
)


@dataclass(frozen=True, slots=True)
class Packet:
    """The packet as the engine follows it (addresses as text)."""

    family: int  # 4 or 6
    proto: str  # icmp, tcp, udp (icmp for ICMPv6 too)
    src: str
    dst: str
    sport: int | None = None
    dport: int | None = None

    def describe(self) -> str:
        if self.dport is None:
            return f"{self.proto} {self.src} -> {self.dst}"
        return f"{self.proto} {self.src}:{self.sport} -> {self.dst}:{self.dport}"


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of the path.

    ``kind``: route, veth, bridge, hook, rule, policy, nat, egress, deliver, drop,
    uncertain. ``keys`` are the model keys of what the hop crosses (ct:, ep:, if:,
    br:, net:, rule:), so a reader can cross-link them. Where a rule decides,
    ``rule`` is its key and ``packets``/``bytes`` its counters; ``trail`` holds the
    keys of every rule whose matches held on the way, in order (jumps included).
    """

    kind: str
    title: str
    detail: str = ""
    keys: tuple[str, ...] = ()
    verdict: str | None = None
    rule: str | None = None
    packets: int | None = None
    bytes: int | None = None
    trail: tuple[str, ...] = ()
    chain: str = ""
    #: user chains the packet fell off the end of (implicit RETURN), as (rules of
    #: ``trail`` matched before it, chain, its number of rules)
    ends: tuple[tuple[int, str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class PathResult:
    """A path from ``source`` to ``destination``.

    ``packet`` is the first packet as sent, ``delivered_as`` the same packet after
    NAT where it ends; ``reply`` the hops of the answer (conntrack ESTABLISHED,
    reverse NAT), empty when the first packet does not arrive.
    """

    source: str
    destination: str
    packet: Packet
    hops: tuple[Hop, ...]
    reply: tuple[Hop, ...]
    verdict: str
    sentence: str
    rule: str | None = None
    delivered_as: Packet | None = None
    reply_verdict: str | None = None

    @property
    def delivered(self) -> bool:
        return self.verdict == "delivered"


class UnknownName(LookupError):
    """A source or destination that names nothing on the host; ``matches`` holds
    the closest names (difflib)."""

    def __init__(self, name: str, candidates: Iterable[str]) -> None:
        self.name = name
        self.matches = tuple(difflib.get_close_matches(name, sorted(set(candidates)), n=5))
        hint = f"; did you mean {', '.join(self.matches)}?" if self.matches else ""
        super().__init__(
            f"{name!r} is neither a container, 'host', 'internet', an address nor HOST:PORT{hint}"
        )
