"""The doctor's checks: each a function ``(Snapshot, Correlation) -> list[Finding]``.

Firewall checks look at the backends Docker maintains (see :func:`live_backends`)
and walk chains generically: a rule counts when it sits in a built-in chain or in
any chain reachable from it by ``-j``/``-g``, so Docker 20.10's FORWARD layout
(DOCKER-ISOLATION-STAGE-1/2, per-bridge ACCEPTs in FORWARD) and Docker 28's
(FORWARD -> DOCKER-FORWARD -> DOCKER-CT, DOCKER-INTERNAL or, in 28.0.1,
DOCKER-ISOLATION-STAGE-1, and DOCKER-BRIDGE -> DOCKER) are read the same way
(tests/recorded/docker28-iptables).

Docker's native nftables backend (table ``docker-bridges``) feeds the same
forward-drop, masquerade and dnat checks through :meth:`Tables.hook`: there the
per-bridge chains are reached through verdict maps keyed on the interface, which
a rule does not record as a jump, so every chain of the table counts and the map
key (``chain_interface``) stands in for the interface condition.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass

from netexplorer.collect.firewall import DOCKER_NFT_TABLE, NFTABLES
from netexplorer.correlate import (
    VETH_SOURCES,
    Correlation,
    IPNetwork,
    dnat_address,
    iface_matches,
    parse_network,
    snat_applies,
    table_kind,
)
from netexplorer.doctor import WARNING, Finding
from netexplorer.model import Chain, Container, Endpoint, Network, Rule, Snapshot, bridge_key

IP_FORWARD = "net.ipv4.ip_forward"
IP6_FORWARD = "net.ipv6.conf.all.forwarding"
BRIDGE_NF = {
    "ipv4": "net.bridge.bridge-nf-call-iptables",
    "ipv6": "net.bridge.bridge-nf-call-ip6tables",
}
LEGACY = "iptables-legacy"
NFT = "iptables-nft"
RUNNING = ("running", "paused", "restarting")
RESTRICTIVE = frozenset({"DROP", "REJECT"})


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    #: one line for the README/help table: what it looks for
    summary: str
    run: Callable[[Snapshot, Correlation], list[Finding]]
    #: the collectors (``Source.name``) whose data it compares; when one of them is
    #: stale (the live view kept its last read) the check is not run: an old read
    #: against a new one shows problems that are not there
    reads: Collection[str] = ("docker",)


# ------------------------------------------------------------------ helpers
def _is_docker_chain(name: str) -> bool:
    return name == "DOCKER" or name.startswith("DOCKER-")


def _family_of(cidr: str) -> str | None:
    try:
        return "ipv6" if ipaddress.ip_network(cidr, strict=False).version == 6 else "ipv4"
    except ValueError:
        return None


def _ip(family: str) -> str:
    """nft's family keyword (``ip``/``ip6``), also its address match's (``ip saddr``)."""
    return "ip6" if family == "ipv6" else "ip"


def _nft(family: str) -> str:
    """Docker's table in nft's syntax: ``ip docker-bridges``."""
    return f"{_ip(family)} {DOCKER_NFT_TABLE}"


def _command(backend: str, family: str) -> str:
    """The binary that edits ``backend``/``family``: iptables-nft, ip6tables-legacy ..."""
    tool = "ip6tables" if family == "ipv6" else "iptables"
    return f"{tool}-{backend.removeprefix('iptables-')}"


def _running(snap: Snapshot) -> list[Container]:
    return [c for c in snap.containers if c.state in RUNNING]


def _bridge_networks(snap: Snapshot) -> list[Network]:
    """Docker bridge networks whose bridge exists on the host."""
    bridges = {b.name for b in snap.bridges}
    return [n for n in snap.networks if n.bridge and n.bridge in bridges]


def _members(snap: Snapshot, net: Network) -> list[tuple[Container, Endpoint]]:
    """Running containers on ``net`` and their endpoint on it."""
    return [(ct, ep) for ct in _running(snap) for ep in ct.endpoints if ep.network_id == net.id]


def _net_evidence(snap: Snapshot, net: Network) -> list[str]:
    keys = [net.key]
    if net.bridge:
        keys.append(bridge_key(net.bridge))
    for ct, ep in _members(snap, net):
        keys += [ct.key, ep.key]
    return keys


def _subnets(net: Network, family: str) -> list[str]:
    if family == "ipv6" and not net.enable_ipv6:
        return []
    return [s for s in net.subnets if _family_of(s) == family]


def docker_tables(snap: Snapshot) -> set[tuple[str, str, str]]:
    """(backend, family, table) that hold one of Docker's chains.

    For the native nftables backend the table is the kind of a chain of
    ``docker-bridges`` (``nat`` for nat-POSTROUTING, ``filter`` for filter-FORWARD).
    """
    out = {(c.backend, c.family, c.table) for c in snap.chains if _is_docker_chain(c.name)}
    out |= {
        (c.backend, c.family, c.name.split("-", 1)[0])
        for c in snap.chains
        if c.backend == NFTABLES and c.table == DOCKER_NFT_TABLE
    }
    return out


def iptables_backends(snap: Snapshot) -> list[str]:
    """The iptables backends holding Docker's chains.

    Docker's native nftables backend (table docker-bridges) is not one of them: it
    is not one of "both backends", so a leftover DOCKER-USER chain beside it is no
    conflict. forward-drop, masquerade and dnat read it too (:func:`rule_backends`).
    """
    return [b for b in snap.firewall_backends if b.startswith("iptables-")]


def live_backends(snap: Snapshot) -> list[str]:
    """The backend(s) dockerd maintains now.

    One backend with Docker's chains: that one. Both (stale rules after switching
    the iptables alternative): the one whose rules name more of the bridges that
    exist now, since the stale set lacks what was created after the switch; both
    if they tie.
    """
    backends = iptables_backends(snap)
    if len(backends) <= 1:
        return backends
    current = {n.bridge for n in _bridge_networks(snap) if n.bridge}
    named: dict[str, set[str]] = {b: set() for b in backends}
    for r in snap.rules:
        if r.backend in named:
            named[r.backend] |= {
                i for i in (r.in_interface, r.out_interface) if i is not None and i in current
            }
    score = {b: len(named[b]) for b in backends}
    best = max(score.values())
    return [b for b in backends if score[b] == best]


def rule_backends(snap: Snapshot) -> list[str]:
    """The backends whose rules the forward-drop, masquerade and dnat checks read:
    :func:`live_backends`, and Docker's native nftables backend when it is listed
    (its rules are in table docker-bridges, read through :meth:`Tables.hook`)."""
    return live_backends(snap) + [b for b in snap.firewall_backends if b == NFTABLES]


class Tables:
    """Rules of one snapshot grouped by (backend, family, table, chain)."""

    def __init__(self, snap: Snapshot) -> None:
        self.chains: dict[tuple[str, str, str, str], Chain] = {
            (c.backend, c.family, c.table, c.name): c for c in snap.chains
        }
        self.rules: dict[tuple[str, str, str, str], list[Rule]] = {}
        for r in snap.rules:
            self.rules.setdefault((r.backend, r.family, r.table, r.chain), []).append(r)
        self._dnat: dict[tuple[str, str], dict[str, list[Rule]]] = {}
        self._hook: dict[tuple[str, str, str, str], list[Rule]] = {}
        self._snat: dict[tuple[str, str], list[tuple[IPNetwork, Rule]]] = {}
        self._touching: dict[
            tuple[str, str, str, str, frozenset[str]],
            tuple[dict[str, list[tuple[int, Rule]]], list[tuple[int, Rule]]],
        ] = {}

    def reachable(self, backend: str, family: str, table: str, start: str) -> Iterator[Rule]:
        """Rules of chain ``start`` and of every chain reachable from it by jumps."""
        seen: set[str] = set()
        todo = [start]
        while todo:
            chain = todo.pop(0)
            if chain in seen:
                continue
            seen.add(chain)
            for r in self.rules.get((backend, family, table, chain), []):
                yield r
                if (backend, family, table, r.target) in self.chains:
                    todo.append(r.target)

    def hook(self, backend: str, family: str, table: str, base: str) -> list[Rule]:
        """Rules that see the packets of iptables' built-in chain ``table``/``base``
        (see :meth:`_walk_hook`), walked once per snapshot."""
        key = (backend, family, table, base)
        if key not in self._hook:
            self._hook[key] = list(self._walk_hook(backend, family, table, base))
        return self._hook[key]

    def touching(
        self, backend: str, family: str, table: str, base: str, targets: frozenset[str], name: str
    ) -> list[Rule]:
        """Rules of :meth:`hook` with a target in ``targets`` that name interface
        ``name`` as their in, out or verdict-map interface (exactly or by an
        iptables ``+`` prefix), in hook order. Indexed once per hook and targets:
        walking the hook per bridge made forward-drop quadratic (0.1 s at 200
        networks and 5,000 rules)."""
        key = (backend, family, table, base, targets)
        if key not in self._touching:
            exact: dict[str, list[tuple[int, Rule]]] = {}
            prefixed: list[tuple[int, Rule]] = []
            for i, r in enumerate(self.hook(backend, family, table, base)):
                if r.target not in targets:
                    continue
                for pattern in {r.in_interface, r.out_interface, r.chain_interface} - {None}:
                    assert pattern is not None
                    if pattern.endswith("+"):
                        prefixed.append((i, r))
                    else:
                        exact.setdefault(pattern, []).append((i, r))
            self._touching[key] = (exact, prefixed)
        exact, prefixed = self._touching[key]
        found = dict(exact.get(name, []))
        for i, r in prefixed:
            patterns = (r.in_interface, r.out_interface, r.chain_interface)
            if any(p is not None and iface_matches(p, name) for p in patterns):
                found[i] = r
        return [found[i] for i in sorted(found)]

    def snat_sources(self, backend: str, family: str) -> list[tuple[IPNetwork, Rule]]:
        """(source network, rule) of the MASQUERADE/SNAT rules nat POSTROUTING reaches
        that name a source, in hook order; parsed once per backend and family."""
        key = (backend, family)
        if key not in self._snat:
            found = []
            for r in self.hook(backend, family, "nat", "POSTROUTING"):
                if r.target not in _SNAT or r.source is None or r.source_negated:
                    continue
                src = parse_network(r.source)
                if src is not None:
                    found.append((src, r))
            self._snat[key] = found
        return self._snat[key]

    def _walk_hook(self, backend: str, family: str, table: str, base: str) -> Iterator[Rule]:
        """Rules that see the packets of iptables' built-in chain ``table``/``base``.

        iptables backends: :meth:`reachable` from ``base``. Docker's native
        nftables backend: every rule of table docker-bridges whose kind is
        ``table`` (chain prefix nat-/filter-, or a NAT target), in any chain. Its
        base chains reach the per-bridge chains only through verdict maps
        (``oifname vmap @filter-forward-in-jumps``), which a rule does not record
        as a jump, so walking jumps would miss them; the map key is in each
        rule's ``chain_interface``. Taking all chains of the kind also takes
        nat-OUTPUT's, which is harmless: Docker's nat-PREROUTING and nat-OUTPUT
        jump to the same nat-prerouting-and-output chain.
        """
        if backend != NFTABLES:
            yield from self.reachable(backend, family, table, base)
            return
        for (b, f, t, _), rules in self.rules.items():
            if (b, f, t) == (backend, family, DOCKER_NFT_TABLE):
                # a chain no map element leads to never runs: check_unreached_chain
                yield from (r for r in rules if table_kind(r) == table and not r.unreached)

    def dnat_by_port(self, backend: str, family: str) -> dict[str, list[Rule]]:
        """DNAT rules reachable from nat PREROUTING by ``--dport``, in rule order;
        computed once per backend and family (per published port it made the doctor
        quadratic: 0.3 s at 1,600 ports and 5,000 rules)."""
        key = (backend, family)
        if key not in self._dnat:
            by_port: dict[str, list[Rule]] = {}
            for r in self.hook(backend, family, "nat", "PREROUTING"):
                if r.target == "DNAT" and r.dport is not None:
                    by_port.setdefault(r.dport, []).append(r)
            self._dnat[key] = by_port
        return self._dnat[key]

    def unreached(self, family: str, chain: str) -> bool:
        """Does Docker's native ``chain`` hold rules that no packet reaches?"""
        rules = self.rules.get((NFTABLES, family, DOCKER_NFT_TABLE, chain), [])
        return any(r.unreached for r in rules)

    def policy(self, backend: str, family: str, table: str, chain: str) -> str | None:
        c = self.chains.get((backend, family, table, chain))
        return c.policy if c is not None else None


def _matches(pattern: str | None, negated: bool, name: str) -> bool:
    return pattern is not None and not negated and iface_matches(pattern, name)


# ------------------------------------------------------------------ checks
def check_ip_forward(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """Routing between the bridge and the outside is off in the kernel."""
    out: list[Finding] = []
    for family, sysctl in (("ipv4", IP_FORWARD), ("ipv6", IP6_FORWARD)):
        if snap.sysctls.get(sysctl) != "0":
            continue  # on, or not read (then there is nothing to say)
        nets = [
            n
            for n in _bridge_networks(snap)
            if not n.internal and _subnets(n, family) and _members(snap, n)
        ]
        if not nets:
            continue
        names = ", ".join(n.name for n in nets)
        evidence = [k for n in nets for k in _net_evidence(snap, n)]
        out.append(
            Finding(
                check="ip-forward",
                subject=sysctl,
                title=f"{sysctl} is 0: the kernel does not route {family} packets "
                f"between the Docker bridges and other interfaces",
                detail=f"Containers on {names} reach each other and the host, but nothing "
                "beyond it: their packets to other networks and replies to published "
                "ports are not forwarded. Docker sets it to 1 when it starts; something "
                "(a sysctl.conf, a VPN or firewall tool) turned it off since.",
                fix=f"sysctl -w {sysctl}=1\n"
                f"echo '{sysctl} = 1' > /etc/sysctl.d/99-docker-forward.conf  # keep it",
                evidence=evidence,
            )
        )
    return out


#: the base chain whose policy forward-drop reads, per kind of backend
FORWARD_CHAIN = {"iptables": ("filter", "FORWARD"), NFTABLES: (DOCKER_NFT_TABLE, "filter-FORWARD")}


def _via(r: Rule, direction: str, bridge: str) -> bool:
    """Is ``r`` in a chain a verdict map dispatches on ``bridge`` as in/out interface?"""
    return (
        r.chain_interface is not None
        and r.chain_interface_dir == direction
        and iface_matches(r.chain_interface, bridge)
    )


def _one_port_or_host(r: Rule) -> bool:
    """Does ``r`` admit only one port or one address (Docker's per-port ACCEPT
    ``-d <ctr>/32 ... --dport 80``, nft ``ip daddr <ctr> tcp dport 80 accept``)?"""
    if r.dport is not None:
        return True
    if r.destination is None or r.destination_negated:
        return False
    dest = parse_network(r.destination)
    return dest is not None and dest.num_addresses == 1


_ACCEPT = frozenset({"ACCEPT"})
_DROP = frozenset({"DROP"})
_SNAT = frozenset({"MASQUERADE", "SNAT"})


def _filter_chain(tables: Tables, backend: str, family: str, *preferred: str) -> str:
    """The first of ``preferred`` that exists in the filter table, else FORWARD: where a
    fix inserts its ACCEPT."""
    return next(
        (c for c in preferred if (backend, family, "filter", c) in tables.chains), "FORWARD"
    )


def _accepts(tables: Tables, backend: str, family: str, bridge: str) -> tuple[bool, bool]:
    """(is traffic out of ``bridge`` accepted, are replies into it accepted) in FORWARD.

    Replies count as accepted only by a rule that takes any traffic into the bridge
    from elsewhere (Docker's conntrack ACCEPT): not by a published port's ACCEPT
    for one address and port, nor by the ICC rule (``-i br -o br``), which takes
    only traffic from the bridge itself. Docker 28 follows those with an explicit
    ``! -i br -o br -j DROP`` in chain DOCKER, so with them alone replies are lost.
    """
    out_ok = in_ok = False
    for r in tables.touching(backend, family, "filter", "FORWARD", _ACCEPT, bridge):
        from_br = _matches(r.in_interface, r.in_negated, bridge) or _via(r, "in", bridge)
        into_br = _matches(r.out_interface, r.out_negated, bridge) or _via(r, "out", bridge)
        if from_br and not into_br:
            out_ok = True
        if into_br and not from_br and not _one_port_or_host(r):
            in_ok = True
    return out_ok, in_ok


def check_forward_drop(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """FORWARD policy DROP and no ACCEPT for a bridge network, in any backend (Docker's
    native nftables: filter-FORWARD, and the accepts of filter-forward-in__/out__<bridge>)."""
    out: list[Finding] = []
    tables = Tables(snap)
    for (backend, family, table, name), chain in sorted(tables.chains.items()):
        kind = NFTABLES if backend == NFTABLES else "iptables"
        if (table, name) != FORWARD_CHAIN[kind] or chain.policy != "DROP":
            continue
        for net in _bridge_networks(snap):
            if net.internal or not _subnets(net, family) or net.bridge is None:
                continue
            out_ok, in_ok = _accepts(tables, backend, family, net.bridge)
            if out_ok and in_ok:
                continue
            br = net.bridge
            tool = _command(backend, family)
            into = _filter_chain(tables, backend, family, "DOCKER-USER")
            missing = []
            fixes = []
            nft = f"nft insert rule {_nft(family)}"
            if not out_ok:
                missing.append(f"out of {br}")
                fixes.append(
                    f"{nft} filter-forward-out__{br} counter accept"
                    if kind == NFTABLES
                    else f"{tool} -I {into} -i {br} ! -o {br} -j ACCEPT"
                )
            if not in_ok:
                missing.append(f"replies into {br}")
                fixes.append(
                    f"{nft} filter-forward-in__{br} ct state established,related counter accept"
                    if kind == NFTABLES
                    else f"{tool} -I {into} -o {br} -m conntrack --ctstate RELATED,ESTABLISHED "
                    "-j ACCEPT"
                )
            stale = backend not in rule_backends(snap)
            out.append(
                Finding(
                    check="forward-drop",
                    subject=f"{backend}/{family}/{br}",
                    title=f"{backend} {family} {name} policy is DROP and no rule accepts "
                    f"traffic {' or '.join(missing)} (network {net.name})",
                    detail="Packets of the containers on this bridge to anywhere but the "
                    "host (and replies to them) fall through to the DROP policy. "
                    + (
                        f"Docker does not maintain {backend}, but both backends hook into "
                        "netfilter, so this policy drops the traffic all the same; set it "
                        "back to ACCEPT if nothing else needs it."
                        if stale
                        else "Docker adds these rules when it creates the network: a "
                        "firewall reload (firewalld, ufw, iptables-restore, nft -f) probably "
                        "flushed them; restarting dockerd re-creates them."
                    ),
                    fix=(f"{tool} -P FORWARD ACCEPT" if stale else "\n".join([*fixes, _RESTART])),
                    evidence=_net_evidence(snap, net),
                )
            )
    return out + _replies_dropped_by_rule(snap, tables)


def _drop_into(tables: Tables, backend: str, family: str, bridge: str) -> Rule | None:
    """A DROP in FORWARD's reach of everything entering ``bridge`` from elsewhere:
    Docker 28's ``-A DOCKER ! -i br -o br -j DROP`` after its per-port ACCEPTs."""
    for r in tables.touching(backend, family, "filter", "FORWARD", _DROP, bridge):
        if _one_port_or_host(r) or r.source is not None:
            continue
        # '! -i br' itself, not a jump's condition: a bare '-o br -j DROP' (20.10's
        # DOCKER-ISOLATION-STAGE-2) is reached only from other bridges, which the
        # walk over jumps cannot tell
        if (
            _matches(r.out_interface, r.out_negated, bridge)
            and r.in_interface is not None
            and r.in_negated
            and iface_matches(r.in_interface, bridge)
        ):
            return r
    return None


def _replies_dropped_by_rule(snap: Snapshot, tables: Tables) -> list[Finding]:
    """Under an ACCEPT policy: replies into a bridge that reach Docker 28's explicit
    DROP for traffic entering the bridge, with no conntrack ACCEPT (DOCKER-CT) for it."""
    out: list[Finding] = []
    for backend in live_backends(snap):
        for family in ("ipv4", "ipv6"):
            chain = tables.chains.get((backend, family, "filter", "FORWARD"))
            if chain is None or chain.policy == "DROP":
                continue  # a DROP policy: the loop above covers it
            for net in _bridge_networks(snap):
                if net.internal or not _subnets(net, family) or net.bridge is None:
                    continue
                br = net.bridge
                drop = _drop_into(tables, backend, family, br)
                if drop is None or _accepts(tables, backend, family, br)[1]:
                    continue
                tool = _command(backend, family)
                into = _filter_chain(tables, backend, family, "DOCKER-CT", "DOCKER-USER")
                out.append(
                    Finding(
                        check="forward-drop",
                        subject=f"{backend}/{family}/{br}",
                        title=f"{backend} {family}: replies into {br} reach "
                        f"'{drop.text}' with no conntrack ACCEPT before it (network {net.name})",
                        detail="The FORWARD policy is ACCEPT, but Docker (28 and later) "
                        "drops everything entering the bridge from elsewhere except published "
                        "ports, after accepting established connections in DOCKER-CT. That "
                        "accept is gone, so answers to the containers' own connections are "
                        "dropped: they can send, never receive.",
                        fix=f"{tool} -I {into} -o {br} -m conntrack --ctstate "
                        f"RELATED,ESTABLISHED -j ACCEPT\n{_RESTART}",
                        evidence=[drop.key, *_net_evidence(snap, net)],
                    )
                )
    return out


_RESTART = "# or: systemctl restart docker (Docker rewrites its rules)"


def _masquerades(tables: Tables, backend: str, family: str, subnet: str, bridge: str) -> bool:
    want = ipaddress.ip_network(subnet, strict=False)
    for src, r in tables.snat_sources(backend, family):
        if src.version != want.version or not want.subnet_of(src):  # type: ignore[arg-type]
            continue
        if snat_applies(r, bridge):  # not only traffic staying on (or into) the bridge
            return True
    return False


def _masquerade_fix(tables: Tables, backend: str, family: str, subnet: str, bridge: str) -> str:
    if backend != NFTABLES:
        tool = _command(backend, family)
        return f"{tool} -t nat -A POSTROUTING -s {subnet} ! -o {bridge} -j MASQUERADE\n{_RESTART}"
    chain = f"nat-postrouting-out__{bridge}"
    if (backend, family, DOCKER_NFT_TABLE, chain) not in tables.chains:
        chain = "nat-POSTROUTING"
    return (
        f'nft add rule {_nft(family)} {chain} oifname != "{bridge}" {_ip(family)} saddr {subnet} '
        f'counter masquerade comment "MASQUERADE"\n{_RESTART}'
    )


def check_masquerade(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A bridge network whose traffic leaves un-NATed (no MASQUERADE for its subnet)."""
    out: list[Finding] = []
    tables = Tables(snap)
    with_nat = docker_tables(snap)
    for backend in rule_backends(snap):
        for family in ("ipv4", "ipv6"):
            if (backend, family, "nat") not in with_nat:
                continue  # Docker does not NAT this family here (e.g. no --ip6tables)
            for net in _bridge_networks(snap):
                if net.internal or not net.masquerade or net.bridge is None:
                    continue
                if backend == NFTABLES and tables.unreached(
                    family, f"{NAT_OUT_PREFIX}__{net.bridge}"
                ):
                    continue  # its chain is cut off: check_unreached_chain says so
                for subnet in _subnets(net, family):
                    if _masquerades(tables, backend, family, subnet, net.bridge):
                        continue
                    out.append(
                        Finding(
                            check="masquerade",
                            subject=f"{backend}/{subnet}",
                            title=f"no MASQUERADE for {subnet} (network {net.name}, bridge "
                            f"{net.bridge}) in {backend} {family}",
                            detail="Packets from these containers leave the host with their "
                            "private source address, so answers never find the way back. "
                            "Docker adds this rule when it creates the network (unless "
                            "com.docker.network.bridge.enable_ip_masquerade=false); a "
                            "firewall reload probably flushed it.",
                            fix=_masquerade_fix(tables, backend, family, subnet, net.bridge),
                            evidence=_net_evidence(snap, net),
                        )
                    )
    return out


#: Docker's native per-bridge chain for traffic out of a bridge, to masquerade
NAT_OUT_PREFIX = "nat-postrouting-out"


def check_unreached_chain(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A per-bridge chain of Docker's native nftables table that no map leads to.

    Docker reaches ``<prefix>__<bridge>`` only through the element ``<bridge>`` of
    the verdict map ``<prefix>-jumps``; without it the chain's rules never run.
    """
    out: list[Finding] = []
    cut: dict[tuple[str, str], list[Rule]] = {}
    for r in snap.rules:
        if r.backend == NFTABLES and r.table == DOCKER_NFT_TABLE and r.unreached:
            cut.setdefault((r.family, r.chain), []).append(r)
    nets = {n.bridge: n for n in _bridge_networks(snap) if n.bridge}
    for (family, chain), rules in sorted(cut.items()):
        prefix, sep, bridge = chain.partition("__")
        net = nets.get(bridge) if sep else None
        if net is None:
            continue  # not a bridge of today's networks: a harmless leftover
        what = {
            "filter-forward-in": "forwarding into the bridge (replies, published ports)",
            "filter-forward-out": "forwarding out of the bridge",
            "nat-postrouting-in": "NAT of traffic into the bridge",
            NAT_OUT_PREFIX: "MASQUERADE of traffic leaving the bridge",
        }.get(prefix, "its rules")
        out.append(
            Finding(
                check="unreached-chain",
                subject=f"{_ip(family)}/{chain}",
                title=f"chain {chain} ({_nft(family)}) is in no verdict map: its "
                f"{len(rules)} rule(s) for bridge {bridge} never run",
                detail=f"Docker jumps to its per-bridge chains only through the map "
                f"{prefix}-jumps, keyed by interface; its element for {bridge} is gone, so "
                f"{what} of network {net.name} is not done. A partial flush or a hand "
                "edit of the table does this.",
                fix=f'nft add element {_nft(family)} {prefix}-jumps {{ "{bridge}" : jump {chain} }}'
                f"\n{_RESTART}",
                evidence=[r.key for r in rules] + _net_evidence(snap, net),
            )
        )
    return out


def check_both_backends(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """Docker's chains in both iptables backends: one set is stale."""
    backends = iptables_backends(snap)
    if len(backends) < 2:
        return []
    live = live_backends(snap)
    stale = [b for b in backends if b not in live]
    suspects = stale or backends
    evidence = [
        r.key
        for r in snap.rules
        if r.backend in suspects and (_is_docker_chain(r.chain) or _is_docker_chain(r.target))
    ]
    if stale:
        which = f"{' and '.join(stale)} holds stale ones (it names fewer of today's bridges)"
        fixes = [
            f"for t in nat filter; do {_command(b, f)} -t $t -F && {_command(b, f)} -t $t -X; done"
            for b in stale
            for f in ("ipv4", "ipv6")
            if (b, f, "nat") in docker_tables(snap) or (b, f, "filter") in docker_tables(snap)
        ]
        fix = "\n".join(
            ["# if nothing but Docker uses that backend (this also drops its other rules):", *fixes]
        )
    else:
        which = "which set is stale cannot be told from the rules"
        fix = (
            "readlink -f $(command -v iptables)  # the backend dockerd uses since its start\n"
            "# then flush the other one: for t in nat filter; do iptables-<other> -t $t -F "
            "&& iptables-<other> -t $t -X; done"
        )
    return [
        Finding(
            check="both-backends",
            subject="+".join(backends),
            title=f"Docker's chains are in both iptables backends; {which}",
            detail="The iptables alternative was switched while Docker had rules. Both "
            "backends hook into netfilter: stale DROP rules or a DROP policy there still "
            "drop packets, and stale DNAT rules send published ports to addresses that "
            "may now belong to other containers.",
            fix=fix,
            evidence=evidence,
            severity=WARNING,
        )
    ]


def _restrictive_same_bridge(snap: Snapshot, bridge: str, family: str) -> list[Rule]:
    live = live_backends(snap)
    return [
        r
        for r in snap.rules
        if r.backend in live
        and r.family == family
        and r.table == "filter"
        and r.target in RESTRICTIVE
        and _matches(r.in_interface, r.in_negated, bridge)
        and _matches(r.out_interface, r.out_negated, bridge)
    ]


def check_br_netfilter(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """Rules between containers on one bridge, but bridged traffic skips iptables."""
    src = snap.source("sysctl")
    if src is None or not src.ok:
        return []
    out: list[Finding] = []
    for net in _bridge_networks(snap):
        if net.bridge is None:
            continue
        for family, sysctl in BRIDGE_NF.items():
            rules = _restrictive_same_bridge(snap, net.bridge, family)
            if family == "ipv4" and not net.icc and not rules:
                continue  # icc=false without Docker's DROP: nothing to enforce
            if not rules:
                continue
            value = snap.sysctls.get(sysctl)
            if value not in (None, "0"):
                continue
            why = (
                f"enable_icc=false on {net.name}"
                if not net.icc
                else f"{len(rules)} filter rule(s) between containers on {net.bridge}"
            )
            state = (
                "the br_netfilter module is not loaded (no /proc/sys/net/bridge)"
                if value is None
                else f"{sysctl} is 0"
            )
            out.append(
                Finding(
                    check="br-netfilter",
                    subject=f"{family}/{net.bridge}",
                    title=f"{why} is not enforced: {state}",
                    detail="Packets between two containers on the same bridge are bridged, "
                    "not routed: iptables sees them only while br_netfilter is loaded and "
                    f"{sysctl} is 1. Until then these rules never match and the containers "
                    "talk freely.",
                    fix=("modprobe br_netfilter\n" if value is None else "")
                    + f"sysctl -w {sysctl}=1",
                    evidence=_net_evidence(snap, net) + [r.key for r in rules],
                    severity=WARNING,
                )
            )
    return out


def check_ports_down(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A container's veth, its bridge port or the bridge is down or not forwarding."""
    out: list[Finding] = []
    ifaces = {i.ifindex: i for i in snap.interfaces}
    bridges = {b.name: b for b in snap.bridges}
    ports = {p.ifindex: p for b in snap.bridges for p in b.ports}
    reported: set[str] = set()
    for ct in _running(snap):
        for ep in ct.endpoints:
            wiring = corr.wiring(ep)
            if wiring.host_ifindex is None:
                continue
            veth = ifaces.get(wiring.host_ifindex)
            if veth is None:
                continue
            keys = [ct.key, ep.key, veth.key]
            keys += [bridge_key(wiring.bridge)] if wiring.bridge else []
            port = ports.get(veth.ifindex)
            br = bridges.get(wiring.bridge or "")
            if "UP" not in veth.flags:
                out.append(
                    Finding(
                        check="port-down",
                        subject=veth.name,
                        title=f"host veth {veth.name} of {ct.name} ({ep.network}) is down",
                        detail="The container's packets stop at the host end of its veth "
                        "pair: it reaches nothing on this network, and nothing reaches it.",
                        fix=f"ip link set {veth.name} up",
                        evidence=keys,
                    )
                )
            elif veth.operstate == "LOWERLAYERDOWN":
                pid = ct.pid or "<pid>"
                out.append(
                    Finding(
                        check="port-down",
                        subject=veth.name,
                        title=f"the container end of {veth.name} is down inside {ct.name}",
                        detail=f"Interface ifindex {wiring.peer_ifindex} in the container's "
                        "network namespace is down, so the veth pair carries nothing.",
                        fix=f"nsenter -t {pid} -n ip -o link | grep '^{wiring.peer_ifindex}:'  "
                        "# its name, e.g. eth0\n"
                        f"nsenter -t {pid} -n ip link set eth0 up",
                        evidence=keys,
                    )
                )
            elif port is not None and port.state != "forwarding":
                out.append(
                    Finding(
                        check="port-down",
                        subject=veth.name,
                        title=f"bridge port {veth.name} of {ct.name} is {port.state}, "
                        "not forwarding",
                        detail="The bridge does not pass frames through a port that is not "
                        "in the forwarding state"
                        + (" (STP is on: it may be blocking a loop)" if br and br.stp else "")
                        + ".",
                        fix=f"bridge link set dev {veth.name} state 3  # 3 = forwarding",
                        evidence=keys,
                    )
                )
            if br is not None and br.name not in reported and br.operstate != "UP":
                iface = ifaces.get(br.ifindex)
                if iface is not None and "UP" not in iface.flags:
                    reported.add(br.name)
                    out.append(
                        Finding(
                            check="port-down",
                            subject=br.name,
                            title=f"bridge {br.name} ({ep.network}) is down",
                            detail="Every container on this bridge is cut off from the "
                            "host and from each other.",
                            fix=f"ip link set {br.name} up",
                            evidence=[br.key, iface.key, *_net_keys(snap, br.name)],
                        )
                    )
    return out


def _net_keys(snap: Snapshot, bridge: str) -> list[str]:
    return [k for n in snap.networks if n.bridge == bridge for k in _net_evidence(snap, n)]


def check_parent(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A macvlan/ipvlan network whose parent interface is missing or down."""
    out: list[Finding] = []
    by_name = {i.name: i for i in snap.interfaces}
    for net in snap.networks:
        if not net.parent:
            continue
        members = _members(snap, net)
        if not members:
            continue
        iface = by_name.get(net.parent)
        keys = [net.key] + [k for ct, ep in members for k in (ct.key, ep.key)]
        if iface is None:
            out.append(
                Finding(
                    check="parent",
                    subject=net.name,
                    title=f"parent interface {net.parent} of {net.driver} network {net.name} "
                    "does not exist",
                    detail="The containers' interfaces hang off this host interface; without "
                    "it they have no way out.",
                    fix=f"ip link show {net.parent}  # create or rename it, then: "
                    f"docker restart {' '.join(ct.name for ct, _ in members)}",
                    evidence=keys,
                )
            )
        elif "UP" not in iface.flags:
            out.append(
                Finding(
                    check="parent",
                    subject=net.name,
                    title=f"parent interface {net.parent} of {net.driver} network {net.name} "
                    "is down",
                    detail="Every container on this network is cut off: their interfaces "
                    "send through the parent.",
                    fix=f"ip link set {net.parent} up",
                    evidence=[iface.key, *keys],
                )
            )
    return out


def _dnat_to(tables: Tables, backend: str, family: str, port: int, proto: str) -> Iterable[Rule]:
    for r in tables.dnat_by_port(backend, family).get(str(port), ()):
        if (r.protocol or proto) == proto:
            yield r


def _published_endpoint(
    snap: Snapshot, backends: list[str], family: str, eps: list[Endpoint], port: int
) -> Endpoint:
    """The endpoint Docker publishes on: the one its per-port filter ACCEPT names
    (``-A DOCKER -d <ip>/32 ... --dport <port> -j ACCEPT``), else the first with an
    address of ``family``."""

    def addr(e: Endpoint) -> str | None:
        return e.ipv6 if family == "ipv6" else e.ipv4

    for r in snap.rules:
        if (
            r.backend in backends
            and r.family == family
            and table_kind(r) == "filter"
            and r.target == "ACCEPT"
            and r.dport == str(port)
            and r.destination
        ):
            dest = r.destination.split("/", 1)[0]
            hit = next((e for e in eps if addr(e) == dest), None)
            if hit is not None:
                return hit
    return next((e for e in eps if addr(e)), eps[0])


def check_dnat(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A published port of a running container with no DNAT rule to it."""
    out: list[Finding] = []
    tables = Tables(snap)
    with_nat = docker_tables(snap)
    live = rule_backends(snap)
    for ct in _running(snap):
        eps = [ep for ep in ct.endpoints if corr.wiring(ep).bridge]
        if not eps or not ct.published_ports:
            continue
        for p in ct.published_ports:
            family = "ipv6" if ":" in p.host_ip else "ipv4"
            backends = [b for b in live if (b, family, "nat") in with_nat]
            if not backends:
                continue  # Docker does not NAT this family (IPv6 without --ip6tables)
            targets = {ep.ipv6 if family == "ipv6" else ep.ipv4 for ep in eps} - {None}
            if not targets:
                # a "::" binding of a container without an IPv6 address: Docker has
                # nothing to DNAT to and leaves it to docker-proxy, by design
                continue
            found = False
            for backend in backends:
                for r in _dnat_to(tables, backend, family, p.host_port, p.protocol):
                    to = r.target_options.get("--to-destination", "")
                    addr = dnat_address(to)
                    if (
                        addr is not None
                        and str(addr) in targets
                        and to.endswith(f":{p.container_port}")
                    ):
                        found = True
            if found:
                continue
            ep = _published_endpoint(snap, backends, family, eps, p.container_port)
            ip = (ep.ipv6 if family == "ipv6" else ep.ipv4) or "?"
            dest = f"[{ip}]:{p.container_port}" if family == "ipv6" else f"{ip}:{p.container_port}"
            any_ip = p.host_ip in ("", "0.0.0.0", "::")
            bridge = corr.wiring(ep).bridge
            if backends[0] == NFTABLES:
                # Docker's own rule (moby nftabler port.go): in ip6 it skips
                # link-local sources, and the host address comes after that
                link_local = "ip6 saddr != fe80::/10 " if family == "ipv6" else ""
                daddr = "" if any_ip else f"{_ip(family)} daddr {p.host_ip} "
                fix = (
                    f"nft add rule {_nft(family)} nat-prerouting-and-output "
                    f'iifname != "{bridge}" {link_local}{daddr}{p.protocol} dport '
                    f'{p.host_port} counter dnat to {dest} comment "DNAT"'
                )
            else:
                host = "" if any_ip else f"-d {p.host_ip} "
                fix = (
                    f"{_command(backends[0], family)} -t nat -A DOCKER {host}! -i {bridge} "
                    f"-p {p.protocol} -m {p.protocol} --dport {p.host_port} -j DNAT "
                    f"--to-destination {dest}"
                )
            out.append(
                Finding(
                    check="dnat",
                    subject=f"{ct.name}/{p.host_ip or '*'}:{p.host_port}/{p.protocol}",
                    title=f"published port {p.host_ip or '*'}:{p.host_port}/{p.protocol} of "
                    f"{ct.name} has no DNAT rule to it",
                    detail="Connections from other hosts to this port are not redirected to "
                    "the container (docker-proxy may still answer connections from the host "
                    "itself). Docker adds the rule when the container starts; a firewall "
                    "reload probably flushed it.",
                    fix=f"{fix}\n# or: docker restart {ct.name}",
                    evidence=[ct.key, *(e.key for e in eps)],
                )
            )
    return out


def check_veth_missing(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A running container on a bridge network whose host veth is not there."""
    out: list[Finding] = []
    for ct in _running(snap):
        for ep in ct.endpoints:
            wiring = corr.wiring(ep)
            bridge = wiring.bridge
            if not bridge or wiring.host_veth or not (ep.ipv4 or ep.ipv6):
                continue
            if wiring.netnsid is None:
                continue  # cannot tell without the container's netns id (not root)
            out.append(
                Finding(
                    check="veth-missing",
                    subject=ep.key,
                    title=f"{ct.name} has no veth on bridge {bridge} (network {ep.network})",
                    detail="Docker says the container is attached, but no host interface "
                    f"on {bridge} leads into its network namespace: the veth pair was "
                    "deleted or moved, so the container is cut off from this network.",
                    fix=f"docker restart {ct.name}\n"
                    f"# or: docker network disconnect {ep.network} {ct.name} && "
                    f"docker network connect {ep.network} {ct.name}",
                    evidence=[ct.key, ep.key, bridge_key(bridge), ep.network_key],
                )
            )
    return out


def check_netns_owner(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """``--network container:<other>`` with the other container gone or stopped."""
    out: list[Finding] = []
    for ct in _running(snap):
        if not ct.netns_owner:
            continue
        owner = corr.netns_owner(ct)
        if owner is not None and owner.state in RUNNING:
            continue
        what = f"{owner.name} is {owner.state}" if owner else "it no longer exists"
        out.append(
            Finding(
                check="netns-owner",
                subject=ct.name,
                title=f"{ct.name} shares the network namespace of a container that is not "
                f"running ({what})",
                detail="A container:<other> container has no network of its own; when the "
                "owner stops, Docker removes the owner's interfaces and this one keeps "
                "only loopback.",
                fix=(f"docker start {owner.name} && " if owner else "")
                + f"docker restart {ct.name}",
                evidence=[ct.key] + ([owner.key] if owner else []),
            )
        )
    return out


DOCKER_FIREWALL = ("docker", "firewall")

CHECKS: tuple[Check, ...] = (
    Check(
        "ip-forward",
        "net.ipv4.ip_forward (or IPv6 forwarding) is 0",
        check_ip_forward,
        ("docker", "sysctl"),
    ),
    Check(
        "forward-drop",
        "FORWARD (nftables: filter-FORWARD) policy DROP and no ACCEPT for a bridge network "
        "(any backend)",
        check_forward_drop,
        DOCKER_FIREWALL,
    ),
    Check(
        "masquerade",
        "a bridge network without its MASQUERADE rule",
        check_masquerade,
        DOCKER_FIREWALL,
    ),
    Check(
        "unreached-chain",
        "a per-bridge chain of Docker's native nftables table that no map leads to",
        check_unreached_chain,
        DOCKER_FIREWALL,
    ),
    Check(
        "both-backends",
        "Docker rules in both iptables backends (stale set)",
        check_both_backends,
        DOCKER_FIREWALL,
    ),
    Check(
        "br-netfilter",
        "icc=false or same-bridge DROP rules while br_netfilter/bridge-nf-call is off",
        check_br_netfilter,
        ("docker", "firewall", "sysctl"),
    ),
    Check(
        "port-down",
        "a container's veth, bridge port or bridge down / not forwarding",
        check_ports_down,
        VETH_SOURCES,
    ),
    Check(
        "parent",
        "a macvlan/ipvlan parent interface missing or down",
        check_parent,
        ("docker", "netlink"),
    ),
    Check("dnat", "a published port without its DNAT rule", check_dnat, DOCKER_FIREWALL),
    Check(
        "veth-missing",
        "a running container whose host veth cannot be found",
        check_veth_missing,
        VETH_SOURCES,
    ),
    Check("netns-owner", "container:<other> whose owner is not running", check_netns_owner),
)
