"""The IPVS table as ``/proc/net/ip_vs`` prints it, parsed into services and real servers.

The kernel prints a header of three lines, then per virtual service one line and
one indented line per real server (destination)::

    IP Virtual Server version 1.2.1 (size=4096)
    Prot LocalAddress:Port Scheduler Flags
      -> RemoteAddress:Port Forward Weight ActiveConn InActConn
    FWM  00000100 rr
      -> 0A000004:0000      Masq    1      0          0
    TCP  C0A80001:0050 wlc persistent 360 FFFFFFFF
      -> [fd00:0000:0000:0000:0000:0000:0000:0002]:0050      Route   1      0          0

A service is ``PROTO ADDR:PORT SCHEDULER [FLAGS]`` or ``FWM MARK SCHEDULER
[FLAGS]`` (a firewall-mark service: the mark in hex); IPv4 addresses and every
port are hex in network order read as a number, IPv6 addresses are written out
in brackets. Flags are ``ops`` (one-packet scheduling) and ``persistent TIMEOUT
NETMASK``. A real server's forwarding method is Masq (NAT), Route (direct
routing), Tunnel (IP-in-IP) or Local.

The text may come from another host: :func:`parse_ip_vs` never raises, skips any
line it cannot read (a real server before any service, a truncated last line)
and keeps only tokens of plain ASCII words, so what it returns can be shown as is.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

#: a word the parser keeps as text (protocol, scheduler, forwarding method)
_WORD = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_HEX = re.compile(r"[0-9A-Fa-f]{1,8}")
_HEX_ADDR = re.compile(r"([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{1,4})")
_V6_ADDR = re.compile(r"\[([0-9A-Fa-f:.]{2,45})\]:([0-9A-Fa-f]{1,4})")
_INT = re.compile(r"-?[0-9]{1,10}")

#: the header's first two lines (the third starts with "->" and names no address)
_HEADERS = ("IP Virtual Server", "Prot LocalAddress")

#: forwarding methods the kernel names (ip_vs_fwd_name)
FORWARDS = ("Masq", "Route", "Tunnel", "Local")


@dataclass(frozen=True, slots=True)
class IpvsDest:
    """One real server of a service: where IPVS sends a connection it schedules there.

    ``forward``: Masq (the destination is rewritten to ``address:port``, NAT),
    Route, Tunnel or Local; ``active``/``inactive`` the connections IPVS counts
    for it (established / others, such as TIME_WAIT)."""

    address: str
    port: int
    forward: str
    weight: int
    active: int
    inactive: int

    def describe(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return (
            f"{host}:{self.port} {self.forward} weight {self.weight} "
            f"active {self.active} inactive {self.inactive}"
        )


@dataclass(frozen=True, slots=True)
class IpvsService:
    """One virtual service: by protocol, address and port, or by firewall mark (FWM).

    ``address``/``port`` are None for a FWM service, ``fwmark`` None for the others;
    ``flags`` as printed (``ops``, ``persistent 360 FFFFFFFF``)."""

    protocol: str  # "TCP" | "UDP" | "SCTP" | "FWM"
    address: str | None
    port: int | None
    fwmark: int | None
    scheduler: str
    flags: tuple[str, ...]
    dests: tuple[IpvsDest, ...]

    def describe(self) -> str:
        """``FWM 0x100 rr`` / ``TCP 10.0.0.2:80 wlc``, as ipvsadm names a service."""
        if self.fwmark is not None:
            head = f"FWM {self.fwmark:#x}"
        else:
            addr = self.address or "?"
            host = f"[{addr}]" if ":" in addr else addr
            head = f"{self.protocol} {host}:{self.port}"
        return " ".join([head, self.scheduler, *self.flags])


def _hex_address(text: str) -> str | None:
    """``0A000004`` -> ``10.0.0.4``; a 32-digit form -> IPv6."""
    try:
        if len(text) == 8:
            return str(ipaddress.IPv4Address(int(text, 16)))
        return str(ipaddress.IPv6Address(int(text, 16)))
    except ValueError:
        return None


def _address_port(token: str) -> tuple[str, int] | None:
    """``0A000004:0050`` or ``[fd00:0000:...:0002]:0050`` -> (address, port)."""
    m = _HEX_ADDR.fullmatch(token)
    if m is not None:
        addr = _hex_address(m.group(1))
        return (addr, int(m.group(2), 16)) if addr is not None else None
    m = _V6_ADDR.fullmatch(token)
    if m is None:
        return None
    try:
        addr = str(ipaddress.IPv6Address(m.group(1)))
    except ValueError:
        return None
    return addr, int(m.group(2), 16)


def _flags(words: list[str]) -> tuple[str, ...] | None:
    """The words after the scheduler: ``ops`` and ``persistent TIMEOUT NETMASK``."""
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "ops":
            out.append(word)
            i += 1
        elif word == "persistent" and _persistent(words[i + 1 : i + 3]):
            out.append(" ".join(words[i : i + 3]))
            i += 3
        else:
            return None
    return tuple(out)


def _persistent(pair: list[str]) -> bool:
    return (
        len(pair) == 2
        and _INT.fullmatch(pair[0]) is not None
        and _HEX.fullmatch(pair[1]) is not None
    )


def _service(words: list[str]) -> IpvsService | None:
    if len(words) < 3:
        return None
    proto, where, scheduler = words[0], words[1], words[2]
    if _WORD.fullmatch(proto) is None or _WORD.fullmatch(scheduler) is None:
        return None
    flags = _flags(words[3:])
    if flags is None:
        return None
    if proto == "FWM":
        if _HEX.fullmatch(where) is None:
            return None
        return IpvsService("FWM", None, None, int(where, 16), scheduler, flags, ())
    found = _address_port(where)
    if found is None:
        return None
    return IpvsService(proto, found[0], found[1], None, scheduler, flags, ())


def _dest(words: list[str]) -> IpvsDest | None:
    if len(words) != 6 or words[0] != "->":
        return None
    found = _address_port(words[1])
    forward = words[2]
    counts = words[3:]
    if found is None or _WORD.fullmatch(forward) is None:
        return None
    if any(_INT.fullmatch(c) is None for c in counts):
        return None
    weight, active, inactive = (int(c) for c in counts)
    return IpvsDest(found[0], found[1], forward, weight, active, inactive)


def parse_ip_vs(text: str) -> list[IpvsService]:
    """The services of one ``/proc/net/ip_vs`` text, each with its real servers, in
    the kernel's order. Never raises; lines it cannot read are skipped (with a
    service line unreadable, its real servers are skipped too)."""
    services: list[IpvsService] = []
    dests: list[IpvsDest] = []
    current: IpvsService | None = None

    def close() -> None:
        if current is not None:
            services.append(_with_dests(current, dests))

    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "->":
            if current is not None:
                dest = _dest(words)
                if dest is not None:
                    dests.append(dest)
            continue
        if line.startswith(_HEADERS) or line[:1].isspace():
            continue
        close()
        current, dests = _service(words), []
    close()
    return services


def _with_dests(service: IpvsService, dests: list[IpvsDest]) -> IpvsService:
    return replace(service, dests=tuple(dests))


def without_counts(text: str | None) -> tuple[IpvsService, ...] | None:
    """The services of an IPVS table with every real server's connection counts set
    to 0: what two reads of a table that only counted connections share. None for
    None (no IPVS)."""
    if text is None:
        return None
    return tuple(
        replace(s, dests=tuple(replace(d, active=0, inactive=0) for d in s.dests))
        for s in parse_ip_vs(text)
    )
