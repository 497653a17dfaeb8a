"""The forward-drop check: a FORWARD DROP (policy or Docker 28's explicit rule) with no
ACCEPT out of a bridge or for the replies into it, in either iptables backend or Docker's
native nftables table."""

from __future__ import annotations

from netexplorer.correlate import (
    Correlation,
    iface_matches,
    parse_network,
)
from netexplorer.doctor import Finding
from netexplorer.doctor.common import (
    RESTART,
    bridge_networks,
    iptables_command,
    names_interface,
    net_evidence,
    nft_table,
    subnets,
)
from netexplorer.doctor.tables import Tables, live_backends, rule_backends
from netexplorer.model import (
    DOCKER_NFT_TABLE,
    NFTABLES,
    Rule,
    Snapshot,
)

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
        from_br = names_interface(r.in_interface, r.in_negated, bridge) or _via(r, "in", bridge)
        into_br = names_interface(r.out_interface, r.out_negated, bridge) or _via(r, "out", bridge)
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
        for net in bridge_networks(snap):
            if net.internal or not subnets(net, family) or net.bridge is None:
                continue
            out_ok, in_ok = _accepts(tables, backend, family, net.bridge)
            if out_ok and in_ok:
                continue
            br = net.bridge
            tool = iptables_command(backend, family)
            into = _filter_chain(tables, backend, family, "DOCKER-USER")
            # (accepted, the traffic in words, the nft rule, the iptables rule)
            directions = (
                (
                    out_ok,
                    f"out of {br}",
                    f"filter-forward-out__{br} counter accept",
                    f"-i {br} ! -o {br} -j ACCEPT",
                ),
                (
                    in_ok,
                    f"replies into {br}",
                    f"filter-forward-in__{br} ct state established,related counter accept",
                    f"-o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                ),
            )
            lacking = [d for d in directions if not d[0]]
            missing = [words for _, words, _, _ in lacking]
            fixes = [
                f"nft insert rule {nft_table(family)} {nft}"
                if kind == NFTABLES
                else f"{tool} -I {into} {ipt}"
                for _, _, nft, ipt in lacking
            ]
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
                    fix=(f"{tool} -P FORWARD ACCEPT" if stale else "\n".join([*fixes, RESTART])),
                    evidence=net_evidence(snap, net),
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
            names_interface(r.out_interface, r.out_negated, bridge)
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
            for net in bridge_networks(snap):
                if net.internal or not subnets(net, family) or net.bridge is None:
                    continue
                br = net.bridge
                drop = _drop_into(tables, backend, family, br)
                if drop is None or _accepts(tables, backend, family, br)[1]:
                    continue
                tool = iptables_command(backend, family)
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
                        f"RELATED,ESTABLISHED -j ACCEPT\n{RESTART}",
                        evidence=[drop.key, *net_evidence(snap, net)],
                    )
                )
    return out
