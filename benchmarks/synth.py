"""A synthetic snapshot at scale, grown from the shapes of the recorded lab snapshot.

``synthetic_snapshot(containers, interfaces, rules)`` replicates what the lab
recording (tests/recorded/lab/nft.snapshot.json) shows: busybox containers on
docker0 and on user bridge networks (``nxlab``-like, one /24 each), the ``web``
shape (two networks, a published port) and the ``test1`` shape (one network); a
host veth per endpoint, enslaved to its network's bridge, its peer in the
container's netns; and Docker's own rules, generated as ``iptables-save`` text and
parsed by the product's parser: per bridge the FORWARD / isolation / MASQUERADE /
RETURN rules, per published port the filter ACCEPT, hairpin MASQUERADE and DNAT
rules. Everything is consistent, so correlation links it like a real host.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
from pathlib import Path
from typing import Any

from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.model import (
    Address,
    Bridge,
    BridgePort,
    Container,
    Endpoint,
    Interface,
    Network,
    PublishedPort,
    Route,
    Snapshot,
)
from netexplorer.path.routing import derived_routes
from netexplorer.snapshot_io import load_snapshot

REPO = Path(__file__).resolve().parents[1]
RECORDED = REPO / "tests" / "recorded" / "lab" / "nft.snapshot.json"
PER_NETWORK = 200  # containers per user network (a /24 holds 253)
BACKEND = "iptables-nft"


def _hex(seed: str, n: int) -> str:
    out = ""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}/{i}".encode()).hexdigest()
        i += 1
    return out[:n]


def _mac(seed: str) -> str:
    h = _hex(seed, 10)
    return "02:42:" + ":".join(h[i : i + 2] for i in range(0, 8, 2))


def _bridge_rules(br: str, subnet: str) -> dict[str, list[str]]:
    return {
        "filter/FORWARD": [
            f"-A FORWARD -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            f"-A FORWARD -o {br} -j DOCKER",
            f"-A FORWARD -i {br} ! -o {br} -j ACCEPT",
            f"-A FORWARD -i {br} -o {br} -j ACCEPT",
        ],
        "filter/DOCKER-ISOLATION-STAGE-1": [
            f"-A DOCKER-ISOLATION-STAGE-1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2"
        ],
        "filter/DOCKER-ISOLATION-STAGE-2": [f"-A DOCKER-ISOLATION-STAGE-2 -o {br} -j DROP"],
        "nat/POSTROUTING": [f"-A POSTROUTING -s {subnet} ! -o {br} -j MASQUERADE"],
        "nat/DOCKER": [f"-A DOCKER -i {br} -j RETURN"],
    }


def _port_rules(br: str, ip: str, host_port: int, port: int) -> dict[str, list[str]]:
    return {
        "filter/DOCKER": [
            f"-A DOCKER -d {ip}/32 ! -i {br} -o {br} -p tcp -m tcp --dport {port} -j ACCEPT"
        ],
        "nat/POSTROUTING": [
            f"-A POSTROUTING -s {ip}/32 -d {ip}/32 -p tcp -m tcp --dport {port} -j MASQUERADE"
        ],
        "nat/DOCKER": [
            f"-A DOCKER ! -i {br} -p tcp -m tcp --dport {host_port} -j DNAT "
            f"--to-destination {ip}:{port}"
        ],
    }


CHAINS = {
    "filter": [
        ("INPUT", "ACCEPT"),
        ("FORWARD", "DROP"),
        ("OUTPUT", "ACCEPT"),
        ("DOCKER", "-"),
        ("DOCKER-ISOLATION-STAGE-1", "-"),
        ("DOCKER-ISOLATION-STAGE-2", "-"),
        ("DOCKER-USER", "-"),
    ],
    "nat": [
        ("PREROUTING", "ACCEPT"),
        ("INPUT", "ACCEPT"),
        ("OUTPUT", "ACCEPT"),
        ("POSTROUTING", "ACCEPT"),
        ("DOCKER", "-"),
    ],
}
HEAD = {
    "filter/FORWARD": ["-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"],
    "nat/PREROUTING": ["-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"],
    "nat/OUTPUT": ["-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER"],
}
TAIL = {
    "filter/DOCKER-ISOLATION-STAGE-1": ["-A DOCKER-ISOLATION-STAGE-1 -j RETURN"],
    "filter/DOCKER-ISOLATION-STAGE-2": ["-A DOCKER-ISOLATION-STAGE-2 -j RETURN"],
    "filter/DOCKER-USER": ["-A DOCKER-USER -j RETURN"],
}


def _save_text(chains: dict[str, list[str]]) -> str:
    lines = []
    for table, names in CHAINS.items():
        lines.append(f"*{table}")
        lines += [f":{name} {policy} [0:0]" for name, policy in names]
        for name, _ in names:
            lines += [f"[0:0] {r}" for r in chains.get(f"{table}/{name}", [])]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def synthetic_snapshot(
    containers: int = 1000,
    interfaces: int = 2000,
    rules: int = 5000,
    per_network: int = PER_NETWORK,
) -> Snapshot:
    """A consistent snapshot of about that size (exact for containers and interfaces)."""
    lab = load_snapshot(RECORDED)
    base_ifaces = [i for i in lab.interfaces if i.kind not in ("veth", "bridge")]
    lab_web = next(c for c in lab.containers if len(c.endpoints) == 2)
    lab_one = next(c for c in lab.containers if len(c.endpoints) == 1)
    default_net = next(n for n in lab.networks if n.bridge == "docker0")
    user_proto = next(n for n in lab.networks if n.driver == "bridge" and n.bridge != "docker0")
    others = [n for n in lab.networks if n.driver != "bridge"]

    n_user = max(1, -(-containers // per_network))
    networks: list[Network] = [copy.deepcopy(default_net)]
    for k in range(n_user):
        net = copy.deepcopy(user_proto)
        net.id = _hex(f"net{k}", 64)
        net.name = f"synth-net-{k:02d}"
        net.subnets = [f"10.{100 + k // 250}.{k % 250}.0/24"]
        net.bridge = f"br-{net.id[:12]}"
        networks.append(net)
    bridges: dict[str, Bridge] = {}
    ifaces: list[Interface] = [copy.deepcopy(i) for i in base_ifaces]
    next_index = max(i.ifindex for i in lab.interfaces) + 1
    for net in networks:
        assert net.bridge is not None
        mac = _mac(net.bridge)
        subnet = ipaddress.ip_network(net.subnets[0])
        ifaces.append(
            Interface(
                next_index,
                net.bridge,
                "bridge",
                "UP",
                mac,
                1500,
                ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
                # the gateway address, as Docker puts it on the bridge
                addresses=[Address("inet", str(subnet.network_address + 1), subnet.prefixlen)],
            )
        )
        bridges[net.bridge] = Bridge(net.bridge, next_index, "UP", mac, False, [])
        next_index += 1

    veths = interfaces - len(ifaces)
    two_homed = max(0, min(containers, veths - containers))
    chains: dict[str, list[str]] = {k: list(v) for k, v in HEAD.items()}
    for net in networks:
        assert net.bridge is not None
        for key, texts in _bridge_rules(net.bridge, net.subnets[0]).items():
            chains.setdefault(key, []).extend(texts)
    fixed = sum(len(v) for v in chains.values()) + sum(len(v) for v in TAIL.values())
    ports_wanted = max(0, (rules - fixed) // 3)

    cts: list[Container] = []
    docker0 = ipaddress.ip_network("172.17.0.0/16")
    host_port = 20000
    for i in range(containers):
        proto = lab_web if i < two_homed else lab_one
        user = networks[1 + i // per_network]
        nets = [networks[0], user] if i < two_homed else [user if i % 2 else networks[0]]
        cid = _hex(f"ct{i}", 64)
        name = f"synth-{'web' if i < two_homed else 'app'}-{i:04d}"
        ct = Container(
            cid,
            name,
            proto.image,
            "running",
            proto.network_mode,
            10000 + i,
            i + 1,
            labels=dict(proto.labels),
        )
        for net in nets:
            assert net.bridge is not None
            if net is networks[0]:
                ip = str(docker0.network_address + 2 + i)
                prefix, gw = 16, "172.17.0.1"
            else:
                sub = ipaddress.ip_network(net.subnets[0])
                ip = str(sub.network_address + 2 + i % PER_NETWORK)
                prefix, gw = 24, str(sub.network_address + 1)
            ep = Endpoint(
                cid,
                name,
                net.name,
                net.id,
                _hex(f"ep{i}{net.id}", 64),
                ip,
                prefix,
                mac=_mac(f"{cid}{net.id}"),
                gateway=gw,
            )
            ct.endpoints.append(ep)
            veth = Interface(
                next_index,
                f"veth{_hex(f'v{i}{net.id}', 7)}",
                "veth",
                "UP",
                _mac(f"veth{i}{net.id}"),
                1500,
                ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
                master=net.bridge,
                master_ifindex=bridges[net.bridge].ifindex,
                link_ifindex=next_index - 1,
                link_netnsid=i + 1,
            )
            ifaces.append(veth)
            bridges[net.bridge].ports.append(
                BridgePort(veth.ifindex, veth.name, "forwarding", "UP")
            )
            next_index += 2
        cts.append(ct)
    # published ports, round robin over the containers, until the rule count is met
    at = 0
    while ports_wanted > 0 and cts:
        ct = cts[at % len(cts)]
        ep = ct.endpoints[0]
        assert ep.ipv4 is not None
        br = next(n.bridge for n in networks if n.id == ep.network_id)
        assert br is not None
        port = 80 + len(ct.published_ports)
        ct.published_ports.append(PublishedPort(port, "tcp", "0.0.0.0", host_port))
        for key, texts in _port_rules(br, ep.ipv4, host_port, port).items():
            chains.setdefault(key, []).extend(texts)
        host_port += 1
        at += 1
        ports_wanted -= 1
    for key, texts in TAIL.items():
        chains.setdefault(key, []).extend(texts)
    count = sum(len(v) for v in chains.values())
    for n in range(rules - count):  # operator rules to hit the exact count
        chains.setdefault("filter/DOCKER-USER", []).insert(
            0, f"-A DOCKER-USER -s 192.0.2.{n % 250}/32 -p tcp --dport {1000 + n} -j DROP"
        )
    parsed_rules, parsed_chains, problems = parse_iptables_save_with_problems(
        _save_text(chains), BACKEND, "ipv4"
    )
    assert not problems, problems[:3]
    snap = Snapshot(
        host="synthetic",
        networks=sorted(networks + others, key=lambda n: n.name),
        containers=sorted(cts, key=lambda c: (c.name, c.id)),
        interfaces=sorted(ifaces, key=lambda i: i.ifindex),
        bridges=sorted(bridges.values(), key=lambda b: b.name),
        rules=parsed_rules,
        chains=parsed_chains,
        firewall_backends=[BACKEND],
        sources=copy.deepcopy(lab.sources),
        collect_seconds=0.0,
        sysctls={"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"},
    )
    # the host's routes: one connected route per address, the default via eth0's gateway
    snap.routes = derived_routes(snap.interfaces)
    snap.routes.append(Route("inet", "default", dev="eth0", gateway="192.0.2.1"))
    return snap


def write_synthetic(path: Path, **sizes: Any) -> Snapshot:
    from netexplorer.snapshot_io import snapshot_to_json

    snap = synthetic_snapshot(**sizes)
    path.write_text(snapshot_to_json(snap), encoding="utf-8")
    return snap
