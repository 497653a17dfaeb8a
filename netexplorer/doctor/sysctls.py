"""Checks of kernel settings: ip-forward (routing off) and br-netfilter (rules between
containers on one bridge that bridged packets skip)."""

from __future__ import annotations

from netexplorer.correlate import (
    Correlation,
)
from netexplorer.doctor import WARNING, Finding
from netexplorer.doctor.common import (
    BRIDGE_NF,
    IP6_FORWARD,
    IP_FORWARD,
    RESTRICTIVE,
    bridge_networks,
    names_interface,
    net_evidence,
    running_members,
    subnets,
)
from netexplorer.doctor.tables import live_backends
from netexplorer.model import (
    Rule,
    Snapshot,
)


# ------------------------------------------------------------------ checks
def check_ip_forward(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """Routing between the bridge and the outside is off in the kernel."""
    out: list[Finding] = []
    for family, sysctl in (("ipv4", IP_FORWARD), ("ipv6", IP6_FORWARD)):
        if snap.sysctls.get(sysctl) != "0":
            continue  # on, or not read (then there is nothing to say)
        nets = [
            n
            for n in bridge_networks(snap)
            if not n.internal and subnets(n, family) and running_members(snap, n)
        ]
        if not nets:
            continue
        names = ", ".join(n.name for n in nets)
        evidence = [k for n in nets for k in net_evidence(snap, n)]
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


def _restrictive_same_bridge(snap: Snapshot, bridge: str, family: str) -> list[Rule]:
    live = live_backends(snap)
    return [
        r
        for r in snap.rules
        if r.backend in live
        and r.family == family
        and r.table == "filter"
        and r.target in RESTRICTIVE
        and names_interface(r.in_interface, r.in_negated, bridge)
        and names_interface(r.out_interface, r.out_negated, bridge)
    ]


def check_br_netfilter(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """Rules between containers on one bridge, but bridged traffic skips iptables."""
    src = snap.source("sysctl")
    if src is None or not src.ok:
        return []
    out: list[Finding] = []
    for net in bridge_networks(snap):
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
                    evidence=net_evidence(snap, net) + [r.key for r in rules],
                    severity=WARNING,
                )
            )
    return out
