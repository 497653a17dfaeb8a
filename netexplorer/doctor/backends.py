"""The both-backends check: Docker's chains in both iptables backends, one set stale."""

from __future__ import annotations

from netexplorer.correlate import (
    Correlation,
)
from netexplorer.doctor import WARNING, Finding
from netexplorer.doctor.common import iptables_command
from netexplorer.doctor.tables import docker_tables, iptables_backends, live_backends
from netexplorer.model import (
    Snapshot,
    is_docker_chain,
)


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
        if r.backend in suspects and (is_docker_chain(r.chain) or is_docker_chain(r.target))
    ]
    if stale:
        which = f"{' and '.join(stale)} holds stale ones (it names fewer of today's bridges)"
        fixes = [
            f"for t in nat filter; do {tool} -t $t -F && {tool} -t $t -X; done"
            for b in stale
            for f in ("ipv4", "ipv6")
            for tool in [iptables_command(b, f)]
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
