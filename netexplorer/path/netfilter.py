"""Walk the firewall for one packet at one netfilter hook, as the kernel does.

Every base chain registered at the hook runs in priority order, whichever backend
holds it: iptables' built-in chains (raw -300, mangle -150, nat -100 before
routing and in OUTPUT, filter 0, security 50, nat 100 in POSTROUTING and INPUT;
iptables-nft registers a built-in chain only once it is used, which its save
output does not tell, so an empty one may be shown that the kernel skips: with
policy ACCEPT and no rule it changes nothing either way),
in iptables-nft and iptables-legacy alike, and native nftables base chains.
Docker names its nftables base chains ``<table kind>-<HOOK>`` (``filter-FORWARD``,
``nat-POSTROUTING``), which gives their hook and priority (raw, dstnat, filter,
srcnat). An accept ends one base chain only; a drop or reject ends the hook.
nat chains see only the first packet of a connection (conntrack NEW).

Within a chain rules run in order; a rule whose matches hold either decides
(ACCEPT, DROP, REJECT, a NAT target), jumps (the chain is pushed; RETURN or the
chain's end pops it), goes to (``-g``: no way back to the caller), or does
nothing final (LOG, MARK ... : the walk goes on; MARK sets the packet's mark
where the walk knows it, for ``-m mark`` and IPVS's firewall-mark services
further on). A native nftables verdict map
keyed on the input or output interface (``oifname vmap @filter-forward-in-jumps``)
jumps to the chain its element names for the packet's interface: the chain whose
``chain_interface`` is that interface in that direction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from netexplorer.model import NFTABLES, Chain, Rule, Snapshot
from netexplorer.path.matching import Undecided, is_goto, rule_matches
from netexplorer.path.packet_state import IPAddress, NfPacket

HOOKS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")

#: iptables tables per hook with their priorities (include/uapi/linux/netfilter_ipv4.h)
_IPTABLES_PRIORITIES: dict[str, tuple[tuple[str, int], ...]] = {
    "PREROUTING": (("raw", -300), ("mangle", -150), ("nat", -100)),
    "INPUT": (("mangle", -150), ("filter", 0), ("security", 50), ("nat", 100)),
    "FORWARD": (("mangle", -150), ("filter", 0), ("security", 50)),
    "OUTPUT": (("raw", -300), ("mangle", -150), ("nat", -100), ("filter", 0), ("security", 50)),
    "POSTROUTING": (("mangle", -150), ("nat", 100)),
}
_NFT_PRIORITIES = {"raw": -300, "mangle": -150, "filter": 0, "security": 50}
#: targets that let the walk go on (they log, mark or count)
CONTINUE_TARGETS = frozenset(
    {"", "LOG", "NFLOG", "ULOG", "TRACE", "MARK", "CONNMARK", "CT", "NOTRACK", "CHECKSUM"}
    | {"TCPMSS", "CLASSIFY", "DSCP", "TOS", "TTL", "HL", "AUDIT", "CONTINUE", "SET"}
)
NAT_TARGETS = frozenset({"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"})
_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class BaseChain:
    backend: str
    family: str
    table: str
    name: str
    hook: str
    priority: int
    policy: str

    def label(self, with_backend: bool = False) -> str:
        """``filter FORWARD``; ``nft docker-bridges filter-FORWARD`` for native
        nftables; ``filter FORWARD (legacy)`` when both iptables backends hold chains."""
        if self.backend == NFTABLES:
            return f"nft {self.table} {self.name}"
        where = f"{self.table} {self.name}"
        return f"{where} ({self.backend.removeprefix('iptables-')})" if with_backend else where

    @property
    def is_nat(self) -> bool:
        return self.table == "nat" or (self.backend == NFTABLES and self.name.startswith("nat-"))


@dataclass(frozen=True, slots=True)
class ChainOutcome:
    """What one base chain did to the packet.

    ``verdict``: ACCEPT, DROP, REJECT or UNDECIDED; ``rule`` the rule that decided
    (None: the chain's policy did); ``trail`` every rule whose matches held, in
    order; ``nat`` the NAT target and its options when a nat rule decided;
    ``undecided`` the words of a match the walk could not evaluate.
    """

    chain: BaseChain
    verdict: str
    rule: Rule | None
    trail: tuple[Rule, ...]
    nat: tuple[str, dict[str, str]] | None = None
    undecided: str | None = None
    noted: tuple[str, ...] = ()
    #: user chains the walk fell off the end of (an implicit RETURN): (rules in
    #: ``trail`` before it, the chain, how many rules the chain has)
    ends: tuple[tuple[int, str, int], ...] = ()
    #: the packet's mark after the chain (None: not known, as before it)
    mark: int | None = None


@dataclass
class Firewall:
    """The snapshot's rules indexed for walking (built once per snapshot)."""

    rules: dict[tuple[str, str, str, str], list[Rule]] = field(default_factory=dict)
    base: dict[tuple[str, int], list[BaseChain]] = field(default_factory=dict)
    #: (backend, family, table) -> chain names, to tell a jump target from a target extension
    chain_names: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    #: native nftables: (family, table, direction, interface) -> chains a vmap reaches
    dispatch: dict[tuple[str, str, str, str], list[str]] = field(default_factory=dict)
    #: native nftables base chains whose hook could not be told from their name
    unknown_hooks: list[Chain] = field(default_factory=list)
    #: iptables-nft and iptables-legacy both hold base chains (labels name the backend)
    both_iptables: bool = False

    @classmethod
    def of(cls, snap: Snapshot) -> Firewall:
        """The host's firewall in ``snap``."""
        return cls.of_tables(snap.rules, snap.chains)

    @classmethod
    def of_tables(cls, rules: Iterable[Rule], chains: Iterable[Chain]) -> Firewall:
        """The firewall of one network namespace from its rules and chains."""
        fw = cls()
        grouped: dict[tuple[str, str, str, str], list[Rule]] = defaultdict(list)
        names: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        dispatch: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
        for rule in rules:
            grouped[(rule.backend, rule.family, rule.table, rule.chain)].append(rule)
            names[(rule.backend, rule.family, rule.table)].add(rule.chain)
            if rule.chain_interface and rule.chain_interface_dir and rule.position == 1:
                dispatch[
                    (rule.family, rule.table, rule.chain_interface_dir, rule.chain_interface)
                ].append(rule.chain)
        for chain_rules in grouped.values():
            chain_rules.sort(key=lambda r: r.position)
        base: dict[tuple[str, int], list[BaseChain]] = defaultdict(list)
        for chain in chains:
            names[(chain.backend, chain.family, chain.table)].add(chain.name)
            if chain.policy is None:
                continue
            found = _base_chain(chain)
            if found is None:
                fw.unknown_hooks.append(chain)
                continue
            for version in _versions(chain.family):
                base[(found.hook, version)].append(found)
        for at_hook in base.values():
            at_hook.sort(key=lambda b: (b.priority, b.backend != "iptables-legacy"))
        fw.both_iptables = {"iptables-nft", "iptables-legacy"} <= {
            b.backend for at_hook in base.values() for b in at_hook
        }
        fw.rules, fw.base, fw.chain_names, fw.dispatch = (
            dict(grouped),
            dict(base),
            dict(names),
            dict(dispatch),
        )
        return fw

    def chains_at(self, hook: str, family: int) -> list[BaseChain]:
        return self.base.get((hook, family), [])

    def run_hook(
        self,
        hook: str,
        packet: NfPacket,
        is_local: Callable[[IPAddress], bool],
        skip_nat: bool = False,
    ) -> list[ChainOutcome]:
        """Each base chain at ``hook`` in order, until one drops, rejects or cannot
        decide. nat chains run for a connection's first packet only, and not again
        once its NAT is set up (``skip_nat``: a local packet looping back over lo)."""
        out: list[ChainOutcome] = []
        for chain in self.chains_at(hook, packet.family):
            if chain.is_nat and (skip_nat or not packet.new):
                continue
            outcome = self.walk(chain, packet, is_local)
            out.append(outcome)
            if outcome.verdict != "ACCEPT":
                break
            if outcome.mark != packet.mark:
                packet = packet.at(mark=outcome.mark)
        return out

    def walk(
        self, base: BaseChain, packet: NfPacket, is_local: Callable[[IPAddress], bool]
    ) -> ChainOutcome:
        trail: list[Rule] = []
        noted: list[str] = []
        ends: list[tuple[int, str, int]] = []
        stack: list[tuple[str, int]] = []
        chain, pos = base.name, 0

        def outcome(
            verdict: str,
            rule: Rule | None,
            nat: tuple[str, dict[str, str]] | None = None,
            undecided: str | None = None,
        ) -> ChainOutcome:
            return ChainOutcome(
                base,
                verdict,
                rule,
                tuple(trail),
                nat,
                undecided,
                tuple(noted),
                tuple(ends),
                packet.mark,
            )

        while True:
            rules = self.rules.get((base.backend, base.family, base.table, chain), [])
            jumped = returned = False
            for i in range(pos, len(rules)):
                rule = rules[i]
                hit = rule_matches(rule, packet, is_local)
                if isinstance(hit, Undecided):
                    if rule.target in CONTINUE_TARGETS:
                        noted.append(
                            f"cannot decide {hit.what} "
                            f"(its target {rule.target or 'none'} decides nothing)"
                        )
                        continue
                    return outcome("UNDECIDED", rule, undecided=hit.what)
                if not hit:
                    continue
                trail.append(rule)
                target = rule.target
                if target in ("ACCEPT", "DROP", "REJECT"):
                    return outcome(target, rule)
                if target in NAT_TARGETS:
                    return outcome("ACCEPT", rule, (target, dict(rule.target_options)))
                if target == "RETURN":
                    returned = True
                    break
                if "vmap" in rule.target_options:
                    nxt = self._vmap_target(rule, packet)
                    if nxt is None:  # no element for this interface: the rule does nothing
                        trail.pop()
                        continue
                    stack.append((chain, i + 1))
                    chain, pos, jumped = nxt, 0, True
                    break
                if target in self.chain_names.get((base.backend, base.family, base.table), ()):
                    if len(stack) >= _MAX_DEPTH:
                        return outcome("UNDECIDED", rule, undecided="jumps nest too deep (a loop?)")
                    if not is_goto(rule):
                        stack.append((chain, i + 1))
                    chain, pos, jumped = target, 0, True
                    break
                if target in CONTINUE_TARGETS:
                    if target in ("MARK", "CONNMARK") and packet.mark is not None:
                        packet = packet.at(mark=marked(packet.mark, rule))
                    continue
                return outcome("UNDECIDED", rule, undecided=f"target {target}")
            if jumped:
                continue
            if not stack:
                return outcome(base.policy, None)
            if not returned:
                ends.append((len(trail), chain, len(rules)))
            chain, pos = stack.pop()

    def _vmap_target(self, rule: Rule, packet: NfPacket) -> str | None:
        """The chain an interface verdict map jumps to for this packet, if any."""
        text = rule.text
        if text.startswith(("iifname", "iif ")):
            direction, name = "in", packet.iif
        elif text.startswith(("oifname", "oif ")):
            direction, name = "out", packet.oif
        else:
            return None
        chains = self.dispatch.get((rule.family, rule.table, direction, name), [])
        mapname = rule.target_options.get("vmap", "").lstrip("@")
        prefix = mapname.removesuffix("-jumps")
        for chain in chains:
            if not prefix or chain.startswith(prefix + "__"):
                return chain
        # a chain with no rule carries no dispatch of its own: Docker names the
        # element's chain after the map (nat-postrouting-in-jumps -> nat-postrouting-in__X)
        empty = f"{prefix}__{name}"
        if prefix and empty in self.chain_names.get((rule.backend, rule.family, rule.table), ()):
            return empty
        return None


def marked(mark: int, rule: Rule) -> int | None:
    """The packet's mark after the MARK (or CONNMARK) ``rule``; None where it
    comes from what the read does not hold (CONNMARK --restore-mark: the
    connection's mark) or the options cannot be read."""
    opts = rule.target_options
    if rule.target == "CONNMARK":
        return None if "--restore-mark" in opts else mark
    for name in ("--set-xmark", "--set-mark", "--and-mark", "--or-mark", "--xor-mark"):
        if name not in opts:
            continue
        value, _, mask = opts[name].partition("/")
        try:
            v, k = int(value, 0), int(mask, 0) if mask else 0xFFFFFFFF
        except ValueError:
            return None
        if name == "--set-xmark":  # clear the mask's bits, then xor the value
            mark = (mark & ~k) ^ v
        elif name == "--set-mark":
            mark = (mark & ~k) | v
        elif name == "--and-mark":
            mark &= v
        elif name == "--or-mark":
            mark |= v
        else:
            mark ^= v
        return mark & 0xFFFFFFFF
    return None


def _versions(family: str) -> tuple[int, ...]:
    return {"ipv4": (4,), "ipv6": (6,), "inet": (4, 6)}.get(family, ())


def _base_chain(chain: Chain) -> BaseChain | None:
    policy = chain.policy or "ACCEPT"
    if chain.backend != NFTABLES:
        for hook, tables in _IPTABLES_PRIORITIES.items():
            if chain.name == hook:
                for table, priority in tables:
                    if table == chain.table:
                        return BaseChain(
                            chain.backend,
                            chain.family,
                            chain.table,
                            chain.name,
                            hook,
                            priority,
                            policy,
                        )
        return None
    kind, _, hook = chain.name.partition("-")
    if hook not in HOOKS:
        return None
    if kind == "nat":
        priority = 100 if hook in ("POSTROUTING", "INPUT") else -100
    elif kind in _NFT_PRIORITIES:
        priority = _NFT_PRIORITIES[kind]
    else:
        return None
    return BaseChain(chain.backend, chain.family, chain.table, chain.name, hook, priority, policy)


def local_checker(addresses: frozenset[IPAddress]) -> Callable[[IPAddress], bool]:
    """addrtype LOCAL: one of the host's addresses, or loopback."""

    def is_local(address: IPAddress) -> bool:
        return address in addresses or address.is_loopback

    return is_local
