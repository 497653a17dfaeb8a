"""The lab is what scripts/lab promises, checked with ground truth only (no netexplorer).

If these fail, fix the lab before believing any other integration test.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest

from . import groundtruth as gt

pytestmark = pytest.mark.integration


def test_lab_containers_and_networks(lab: str) -> None:
    for name in gt.LAB_CONTAINERS:
        assert gt.docker_inspect(name)["State"]["Running"], name
    assert set(gt.container_ips("test1")) == {"bridge"}
    assert set(gt.container_ips("test2")) == {"bridge"}
    assert set(gt.container_ips("web")) == {"bridge", gt.LAB_NETWORK}
    assert gt.container_ips("web")[gt.LAB_NETWORK] == gt.WEB_NXLAB_IP
    assert gt.container_ips("db") == {gt.LAB_NETWORK: gt.DB_NXLAB_IP}
    subnets = [c["Subnet"] for c in gt.network_inspect(gt.LAB_NETWORK)["IPAM"]["Config"]]
    assert subnets == [gt.LAB_SUBNET]
    ports = gt.docker_inspect("web")["NetworkSettings"]["Ports"]["80/tcp"]
    assert str(gt.WEB_HOST_PORT) in {p["HostPort"] for p in ports}


def test_each_container_interface_is_a_veth_on_its_networks_bridge(
    lab: str,
    ground_truth_iflink: Callable[[str], dict[str, int]],
    host_links: Callable[[], dict[int, dict[str, Any]]],
    bridge_ports: Callable[[], dict[str, str]],
) -> None:
    links = host_links()
    ports = bridge_ports()
    for name in gt.LAB_CONTAINERS:
        expected = {gt.bridge_ifname(net) for net in gt.container_ips(name)}
        seen = set()
        for ifname, iflink in ground_truth_iflink(name).items():
            host = links[iflink]
            assert host["linkinfo"]["info_kind"] == "veth", (name, ifname, host["ifname"])
            seen.add(ports[host["ifname"]])
        assert seen == expected, name


def test_internet_route_and_netns(lab: str) -> None:
    route = gt.route_get(gt.INET_ADDR)
    assert route["dev"] == gt.INET_HOST_IF
    assert route["gateway"] == gt.INET_NETNS_ADDR
    # only 203.0.113.1 goes into the netns: the rest of 203.0.113.0/24 may be real
    assert gt.route_get("203.0.113.80")["dev"] != gt.INET_HOST_IF
    addrs = gt.netns_exec(gt.INET_NETNS, "ip", "-o", "addr", "show", "dev", "lo")
    assert f"{gt.INET_ADDR}/32" in addrs


def test_docker_chains_only_in_the_active_backend(lab: str) -> None:
    active = gt.active_iptables_mode()
    other = "legacy" if active == "nft" else "nft"
    assert {"DOCKER", "DOCKER-USER"} <= gt.docker_chains(active)
    assert gt.docker_chains(other) == set()
    nat = gt.iptables_save(active, "nat")
    assert f"-A POSTROUTING -s {gt.LAB_SUBNET} ! -o {gt.bridge_ifname(gt.LAB_NETWORK)}" in nat
    assert f"--dport {gt.WEB_HOST_PORT} -j DNAT" in nat


def test_throwaway_container(lab: str, throwaway: Callable[..., str]) -> None:
    name = throwaway(gt.LAB_NETWORK, "bridge")
    assert name.startswith(gt.THROWAWAY_PREFIX)
    ips = gt.container_ips(name)
    assert ipaddress.ip_address(ips[gt.LAB_NETWORK]) in ipaddress.ip_network(gt.LAB_SUBNET)
    assert set(gt.ground_truth_iflink(name)) == {"eth0", "eth1"}
