"""NAT checks: masquerade (a bridge network without its MASQUERADE), dnat (a published
port without its DNAT) and unreached-chain (a native nftables per-bridge chain no verdict
map leads to)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from netexplorer.correlate import (
    Correlation,
    dnat_address,
    snat_applies,
    table_kind,
)
from netexplorer.doctor import Finding
from netexplorer.doctor.common import (
    RESTART,
    bridge_networks,
    iptables_command,
    net_evidence,
    nft_family,
    nft_table,
    running,
    subnets,
)
from netexplorer.doctor.tables import Tables, docker_tables, rule_backends
from netexplorer.model import (
    DOCKER_NFT_TABLE,
    NFTABLES,
    Endpoint,
    Rule,
    Snapshot,
)


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
        tool = iptables_command(backend, family)
        return f"{tool} -t nat -A POSTROUTING -s {subnet} ! -o {bridge} -j MASQUERADE\n{RESTART}"
    chain = f"nat-postrouting-out__{bridge}"
    if (backend, family, DOCKER_NFT_TABLE, chain) not in tables.chains:
        chain = "nat-POSTROUTING"
    return (
        f'nft add rule {nft_table(family)} {chain} oifname != "{bridge}" '
        f'{nft_family(family)} saddr {subnet} counter masquerade comment "MASQUERADE"\n{RESTART}'
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
            for net in bridge_networks(snap):
                if net.internal or not net.masquerade or net.bridge is None:
                    continue
                if backend == NFTABLES and tables.unreached(
                    family, f"{NAT_OUT_PREFIX}__{net.bridge}"
                ):
                    continue  # its chain is cut off: check_unreached_chain says so
                for subnet in subnets(net, family):
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
                            evidence=net_evidence(snap, net),
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
    nets = {n.bridge: n for n in bridge_networks(snap) if n.bridge}
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
                subject=f"{nft_family(family)}/{chain}",
                title=f"chain {chain} ({nft_table(family)}) is in no verdict map: its "
                f"{len(rules)} rule(s) for bridge {bridge} never run",
                detail=f"Docker jumps to its per-bridge chains only through the map "
                f"{prefix}-jumps, keyed by interface; its element for {bridge} is gone, so "
                f"{what} of network {net.name} is not done. A partial flush or a hand "
                "edit of the table does this.",
                fix=f"nft add element {nft_table(family)} {prefix}-jumps "
                f'{{ "{bridge}" : jump {chain} }}\n{RESTART}',
                evidence=[r.key for r in rules] + net_evidence(snap, net),
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
    for ct in running(snap):
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
                daddr = "" if any_ip else f"{nft_family(family)} daddr {p.host_ip} "
                fix = (
                    f"nft add rule {nft_table(family)} nat-prerouting-and-output "
                    f'iifname != "{bridge}" {link_local}{daddr}{p.protocol} dport '
                    f'{p.host_port} counter dnat to {dest} comment "DNAT"'
                )
            else:
                host = "" if any_ip else f"-d {p.host_ip} "
                fix = (
                    f"{iptables_command(backends[0], family)} -t nat -A DOCKER {host}! -i {bridge} "
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
