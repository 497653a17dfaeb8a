"""Does a firewall rule match a packet? Evaluated statically, or "cannot decide".

Interfaces (``!``, ``+`` and nft's ``*``), addresses, protocol and ports come from
the rule's parsed fields (both backends); iptables match modules from the rule
text (``parse_rule_spec``): conntrack/state, addrtype, tcp/udp/icmp/multiport,
physdev, comment; mark and ipvs where the walk knows the packet's mark and IPVS
state (inside a namespace whose rules and IPVS table were read); for an overlay's
encapsulating packet, Docker's ``u32`` match on the VXLAN header's VNI and ``policy
--dir in --pol none|ipsec`` where the host's IPsec states were read. Native nftables
statements that the fields do not hold are read from the rule's nft text:
``ct state``, ``fib daddr type local``. Anything else (marks elsewhere, sets,
bpf, owner, other u32, string, recent, limits ...) depends on what the engine cannot
see, so the answer is :class:`Undecided` with the words of the match: never a guess.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from netexplorer.collect.firewall.iptables_save import MatchModule, RuleSpec, parse_rule_spec
from netexplorer.collect.firewall.legacy import UNSUPPORTED
from netexplorer.correlate import iface_matches, parse_network
from netexplorer.ipsec import u32_vni
from netexplorer.model import NFTABLES, Rule
from netexplorer.path.packet_state import IPAddress, NfPacket


@dataclass(frozen=True, slots=True)
class Undecided:
    """A match that cannot be evaluated statically; ``what`` quotes it."""

    what: str


Outcome = bool | Undecided

#: protocol names and numbers as iptables and nft write them
_PROTO_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132}
_ICMP_TYPES = {
    "echo-request": 8,
    "echo-reply": 0,
    "ipv6-icmp-echo-request": 128,
    "ipv6-icmp-echo-reply": 129,
}
#: match modules iptables does not accept without an option
_NEEDS_OPTIONS = frozenset(
    {"conntrack", "state", "addrtype", "physdev", "multiport", "set", "mark"}
)
_TCP_FLAGS = frozenset({"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"})
_ICMP6_TYPES = {"echo-request": 128, "echo-reply": 129}
_NFT_CT_STATE = re.compile(r"\bct state (!= )?(\{[a-z, ]+\}|[a-z,]+)")
_NFT_FIB = re.compile(r"\bfib daddr type (!= )?(\w+)")


def iface_matches_nft(pattern: str, name: str) -> bool:
    """iptables ``+`` or nft ``*`` wildcard, else exact."""
    if pattern.endswith("*") and not pattern.endswith("\\*"):
        return name.startswith(pattern[:-1])
    return iface_matches(pattern, name)


def _proto_matches(rule_proto: str, packet: NfPacket) -> bool:
    want = rule_proto.lower()
    if want in ("all", "0"):
        return True
    have = packet.proto if packet.family == 4 or packet.proto != "icmp" else "icmpv6"
    if want.isdigit():
        return int(want) == _PROTO_NUMBERS.get(have, -1)
    return _PROTO_NUMBERS.get(want, -2) == _PROTO_NUMBERS.get(have, -1)


_network = functools.lru_cache(maxsize=65536)(parse_network)


def _in_cidr(text: str, address: IPAddress) -> bool:
    net = _network(text)
    return net is not None and net.version == address.version and address in net


def port_matches(spec: str, port: int | None) -> bool:
    """iptables port syntax: ``80``, ``80:90``, ``80,443,1000:2000``; ``!`` in front negates."""
    negated = spec.startswith("!")
    body = spec.lstrip("!").strip()
    if port is None:
        return False
    hit = False
    for part in body.split(","):
        low, _, high = part.replace("-", ":").partition(":")
        try:
            lo = int(low) if low else 0
            hi = int(high) if high else (65535 if _ else lo)
        except ValueError:
            return False
        hit = hit or lo <= port <= hi
    return hit != negated


def fields_match(rule: Rule, packet: NfPacket) -> bool:
    """The conditions every backend's parser fills: protocol, addresses, interfaces, ports."""
    if rule.protocol is not None and _proto_matches(rule.protocol, packet) == rule.protocol_negated:
        return False
    if rule.source is not None and _in_cidr(rule.source, packet.src) == rule.source_negated:
        return False
    if (
        rule.destination is not None
        and _in_cidr(rule.destination, packet.dst) == rule.destination_negated
    ):
        return False
    if (
        rule.in_interface is not None
        and iface_matches_nft(rule.in_interface, packet.iif) == rule.in_negated
    ):
        return False
    if (
        rule.out_interface is not None
        and iface_matches_nft(rule.out_interface, packet.oif) == rule.out_negated
    ):
        return False
    if rule.dport is not None and not port_matches(rule.dport, packet.dport):
        return False
    return rule.sport is None or port_matches(rule.sport, packet.sport)


def rule_matches(rule: Rule, packet: NfPacket, is_local: Callable[[IPAddress], bool]) -> Outcome:
    """Does ``rule`` match ``packet``? ``is_local`` answers addrtype LOCAL / fib type local."""
    if not fields_match(rule, packet):
        return False
    if rule.backend == NFTABLES:
        return _nft_extras(rule, packet, is_local)
    if UNSUPPORTED in rule.text:
        return Undecided(f"{rule.text} (a match netexplorer could not read)")
    try:
        spec = _spec(rule.text)
    except ValueError:
        return Undecided(rule.text)
    for module in spec.modules:
        outcome = _module_matches(module, packet, is_local)
        if outcome is not True:
            return outcome
    return True


@functools.lru_cache(maxsize=65536)
def _spec(text: str) -> RuleSpec:
    return parse_rule_spec(text)


def is_goto(rule: Rule) -> bool:
    """iptables ``-g CHAIN`` (nft ``goto``): no return to the calling chain."""
    if rule.backend == NFTABLES:
        return f"goto {rule.target}" in rule.text
    try:
        return _spec(rule.text).goto
    except ValueError:
        return False


def _quote(module: MatchModule) -> str:
    opts = " ".join(
        ("! " if o.negated else "") + o.name + (f" {o.value}" if o.value is not None else "")
        for o in module.options
    )
    return f"-m {module.name} {opts}".strip()


def _states(packet: NfPacket) -> frozenset[str]:
    return packet.ctstate


def _module_matches(
    module: MatchModule, packet: NfPacket, is_local: Callable[[IPAddress], bool]
) -> Outcome:
    name = module.name
    if name in ("comment",):
        return True
    if name in _NEEDS_OPTIONS and not module.options:
        # iptables refuses these without an option: the text lost them in the read
        return Undecided(f"-m {name} (its options were not read)")
    if name in ("tcp", "udp", "multiport", "sctp", "udplite"):
        return _l4_matches(module, packet)
    if name in ("icmp", "icmp6", "ipv6-icmp", "icmpv6"):
        return _icmp_matches(module, packet)
    if name in ("conntrack", "state"):
        return _ct_matches(module, packet)
    if name == "addrtype":
        return _addrtype_matches(module, packet, is_local)
    if name == "physdev":
        return _physdev_matches(module, packet)
    if name == "mark" and packet.mark is not None:
        mark = packet.mark
        return _options_hold(module, ("--mark",), lambda v: _mark_is(v, mark))
    if name == "u32" and packet.vni is not None:
        vni = packet.vni
        return _options_hold(module, ("--u32",), lambda v: _u32_is(v, vni))
    if name == "policy" and packet.ipsec is not None:
        return _policy_matches(module, packet.ipsec)
    if name == "ipvs" and packet.ipvs is not None:
        ipvs = packet.ipvs
        return _options_hold(module, ("--ipvs",), lambda v: ipvs)
    return Undecided(_quote(module))


def _u32_is(value: str, vni: int) -> bool | None:
    """``-m u32 --u32 EXPR`` of Docker's VXLAN-header shape: the packet's VNI is its."""
    wanted = u32_vni(value)
    return None if wanted is None else wanted == vni


def _policy_matches(module: MatchModule, ipsec: bool) -> Outcome:
    """``-m policy --dir in --pol none|ipsec`` for a packet known to have come
    through IPsec or not; other options cannot be decided."""
    opts = {o.name: (o.value, o.negated) for o in module.options}
    if set(opts) != {"--dir", "--pol"} or opts["--dir"] != ("in", False):
        return Undecided(_quote(module))
    pol, negated = opts["--pol"]
    if pol not in ("none", "ipsec"):
        return Undecided(_quote(module))
    return ((pol == "ipsec") == ipsec) != negated


def _mark_is(value: str, mark: int) -> bool | None:
    """``-m mark --mark VALUE[/MASK]``: the packet's mark under the mask is VALUE."""
    want, _, mask = value.partition("/")
    try:
        wanted = int(want, 0)
        masked = int(mask, 0) if mask else 0xFFFFFFFF
    except ValueError:
        return None
    return mark & masked == wanted


def _l4_matches(module: MatchModule, packet: NfPacket) -> Outcome:
    for opt in module.options:
        if opt.name in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            ok = port_matches(opt.value or "", packet.dport)
        elif opt.name in ("--sport", "--source-port", "--sports", "--source-ports"):
            ok = port_matches(opt.value or "", packet.sport)
        elif opt.name in ("--ports", "--port"):
            ok = port_matches(opt.value or "", packet.dport) or port_matches(
                opt.value or "", packet.sport
            )
        elif opt.name == "--syn":
            ok = packet.tcp_flags == frozenset({"SYN"})
        elif opt.name == "--tcp-flags" and opt.value is not None and " " in opt.value:
            # "--tcp-flags FIN,SYN,RST,ACK SYN": of the flags in the mask, exactly these set
            mask, _, wanted = opt.value.partition(" ")
            names = {f for f in mask.split(",")} if mask != "ALL" else _TCP_FLAGS
            want = {f for f in wanted.split(",") if f and f != "NONE"}
            ok = packet.tcp_flags & names == want
        else:
            return Undecided(_quote(module))
        if ok == opt.negated:
            return False
    return True


def _options_hold(
    module: MatchModule, names: tuple[str, ...], holds: Callable[[str], bool | None]
) -> Outcome:
    """Every option of ``module`` (each one of ``names``) holds for the packet, ``!``
    inverting it; ``holds`` gives None for a value it cannot evaluate."""
    for opt in module.options:
        ok = holds(opt.value or "") if opt.name in names else None
        if ok is None:
            return Undecided(_quote(module))
        if ok == opt.negated:
            return False
    return True


def _icmp_type_is(value: str, packet: NfPacket) -> bool | None:
    value = value.lower()
    if value == "any":
        return True
    names = _ICMP6_TYPES if packet.family == 6 else _ICMP_TYPES
    wanted = names.get(value)
    if wanted is None and value.split("/")[0].isdigit():
        wanted = int(value.split("/")[0])
    return None if wanted is None else packet.icmp_type == wanted


def _icmp_matches(module: MatchModule, packet: NfPacket) -> Outcome:
    return _options_hold(
        module, ("--icmp-type", "--icmpv6-type"), lambda v: _icmp_type_is(v, packet)
    )


def _ct_matches(module: MatchModule, packet: NfPacket) -> Outcome:
    return _options_hold(
        module,
        ("--ctstate", "--state"),
        lambda v: bool({s.strip().upper() for s in v.split(",")} & _states(packet)),
    )


def _addr_type(address: IPAddress, is_local: Callable[[IPAddress], bool]) -> str:
    if is_local(address):
        return "LOCAL"
    if address.is_multicast:
        return "MULTICAST"
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address(
        "255.255.255.255"
    ):
        return "BROADCAST"
    return "UNICAST"


def _addrtype_matches(
    module: MatchModule, packet: NfPacket, is_local: Callable[[IPAddress], bool]
) -> Outcome:
    for opt in module.options:
        if opt.name == "--src-type":
            address = packet.src
        elif opt.name == "--dst-type":
            address = packet.dst
        else:  # --limit-iface-in/out: per-interface address types, not modelled
            return Undecided(_quote(module))
        wanted = {t.strip().upper() for t in (opt.value or "").split(",")}
        ok = _addr_type(address, is_local) in wanted
        if ok == opt.negated:
            return False
    return True


def _physdev_matches(module: MatchModule, packet: NfPacket) -> Outcome:
    bridged = packet.physin is not None or packet.physout is not None
    for opt in module.options:
        if opt.name == "--physdev-in":
            ok = packet.physin is not None and iface_matches(opt.value or "", packet.physin)
        elif opt.name == "--physdev-out":
            ok = packet.physout is not None and iface_matches(opt.value or "", packet.physout)
        elif opt.name == "--physdev-is-bridged":
            ok = packet.physin is not None and packet.physout is not None
        elif opt.name == "--physdev-is-in":
            ok = packet.physin is not None
        elif opt.name == "--physdev-is-out":
            ok = packet.physout is not None
        else:
            return Undecided(_quote(module))
        if ok == opt.negated:
            return False
    return bridged or all(o.negated for o in module.options)


#: statements of Docker's nft rules the parsed fields already hold or that do
#: not select packets
_NFT_KNOWN = frozenset({"ct", "fib", "counter", "log", "meta nfproto", "comment"})


def _nft_extras(rule: Rule, packet: NfPacket, is_local: Callable[[IPAddress], bool]) -> Outcome:
    unknown = [m for m in rule.matches if m not in _NFT_KNOWN]
    if unknown:
        return Undecided(f"{', '.join(unknown)} in: {rule.text}")
    text = rule.text
    if "ct" in rule.matches:
        m = _NFT_CT_STATE.search(text)
        if m is None or re.search(r"\bct (?!state)", text.replace(m.group(0), "")):
            return Undecided(text)
        wanted = {s.strip().upper() for s in m.group(2).strip("{} ").split(",") if s.strip()}
        ok = bool(wanted & packet.ctstate)
        if ok == bool(m.group(1)):
            return False
    if "fib" in rule.matches:
        f = _NFT_FIB.search(text)
        if f is None or f.group(2) != "local":
            return Undecided(text)
        ok = is_local(packet.dst)
        if ok == bool(f.group(1)):
            return False
    return True
