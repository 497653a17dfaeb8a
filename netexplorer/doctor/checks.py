"""The doctor's checks: each a function ``(Snapshot, Correlation) -> list[Finding]``,
registered in :data:`CHECKS` with the sources it reads. They live in one module per
family: sysctls (ip-forward, br-netfilter), forwarding (forward-drop), nat
(masquerade, unreached-chain, dnat), backends (both-backends), wiring (port-down,
parent, veth-missing, netns-owner), overlay, mesh (mesh-ipvs, mesh-port,
mesh-backends: the swarm routing mesh); common and tables hold what they share.

Firewall checks look at the backends Docker maintains (see
:func:`netexplorer.doctor.tables.live_backends`)
and walk chains generically: a rule counts when it sits in a built-in chain or in
any chain reachable from it by ``-j``/``-g``, so Docker 20.10's FORWARD layout
(DOCKER-ISOLATION-STAGE-1/2, per-bridge ACCEPTs in FORWARD) and Docker 28's
(FORWARD -> DOCKER-FORWARD -> DOCKER-CT, DOCKER-INTERNAL or, in 28.0.1,
DOCKER-ISOLATION-STAGE-1, and DOCKER-BRIDGE -> DOCKER) are read the same way
(tests/recorded/docker28-iptables).

Docker's native nftables backend (table ``docker-bridges``) feeds the same
forward-drop, masquerade and dnat checks through
:meth:`netexplorer.doctor.tables.Tables.hook`: there the per-bridge chains are
reached through verdict maps keyed on the interface, which a rule does not record
as a jump, so every chain of the table counts and the map key
(``chain_interface``) stands in for the interface condition.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from netexplorer.correlate import (
    VETH_SOURCES,
    Correlation,
)
from netexplorer.doctor import Finding
from netexplorer.doctor.backends import check_both_backends
from netexplorer.doctor.forwarding import check_forward_drop
from netexplorer.doctor.mesh import check_mesh_backends, check_mesh_ipvs, check_mesh_port
from netexplorer.doctor.nat import check_dnat, check_masquerade, check_unreached_chain
from netexplorer.doctor.overlay import (
    check_overlay_fdb,
    check_overlay_ipsec,
    check_overlay_mtu,
    check_overlay_ports,
    check_overlay_vxlan,
)
from netexplorer.doctor.sysctls import check_br_netfilter, check_ip_forward
from netexplorer.doctor.wiring import (
    check_netns_owner,
    check_parent,
    check_ports_down,
    check_veth_missing,
)
from netexplorer.model import (
    Snapshot,
)


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
    Check(
        "overlay-vxlan",
        "an overlay network's vxlan missing or down in its namespace",
        check_overlay_vxlan,
    ),
    Check(
        "overlay-mtu",
        "overlay MTU + 50 (VXLAN) more than the underlay interface's MTU",
        check_overlay_mtu,
        ("docker", "netlink"),
    ),
    Check(
        "overlay-ports",
        "UDP 4789 (VXLAN) or 7946 (gossip) dropped on input by the host firewall",
        check_overlay_ports,
        DOCKER_FIREWALL,
    ),
    Check("overlay-fdb", "a peer node missing from an overlay's vxlan FDB", check_overlay_fdb),
    Check(
        "overlay-ipsec",
        "an encrypted overlay without an ESP state with a peer node, or ESP dropped on input",
        check_overlay_ipsec,
        DOCKER_FIREWALL,
    ),
    Check(
        "mesh-ipvs",
        "published swarm ports on a kernel without IPVS (the mesh cannot deliver)",
        check_mesh_ipvs,
        DOCKER_FIREWALL,
    ),
    Check(
        "mesh-port",
        "a published swarm port without its MARK rule or IPVS service in ingress_sbox",
        check_mesh_port,
        DOCKER_FIREWALL,
    ),
    Check(
        "mesh-backends",
        "a published swarm port whose IPVS service has no real server (every task down)",
        check_mesh_backends,
        DOCKER_FIREWALL,
    ),
)
