"""Which namespaces the routing mesh's tables are read in, and where they land.

The Docker read decides: ingress_sbox and lb_* namespaces, and the running
containers with an endpoint on the ingress network. Nothing is read (no process
is started) on a host without any of them. The reader here lists the texts
recorded in the namespaces it is asked for; the real read is tested against
``iptables-save`` in tests/integration/test_netns_tables.py and in the VM.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from netexplorer.collect.conntrack_source import ConntrackData
from netexplorer.collect.docker_source import DockerData
from netexplorer.collect.firewall import FirewallData
from netexplorer.collect.firewall.netns_tables import NetnsTables, parse_listings
from netexplorer.collect.netlink_source import NetlinkData
from netexplorer.collect.snapshot import Collectors, collect_parts
from netexplorer.collect.sysctl_source import SysctlData
from netexplorer.model import (
    NFT,
    Container,
    DockerNamespace,
    Endpoint,
    NetnsView,
    Network,
)

SAVE = Path(__file__).parent.parent / "recorded" / "firewall" / "host-iptables-nft-save-c.txt"
TASK, WEB = "a" * 64, "b" * 64
INGRESS = Network(id="i" * 25, name="ingress", driver="overlay", scope="swarm", ingress=True)
BRIDGE = Network(id="n" * 64, name="bridge", driver="bridge")


def _container(cid: str, name: str, net: Network, pid: int) -> Container:
    ep = Endpoint(cid, name, net.name, net.id)
    return Container(cid, name, "busybox", "running", "default", pid=pid, endpoints=[ep])


def _read(data: DockerData, asked: list[list[tuple[str, str]]], gone: str = "") -> DockerData:
    def reader(targets: list[tuple[str, str]]) -> Mapping[str, NetnsTables]:
        asked.append(targets)
        out = {name: parse_listings(name, [(NFT, "ipv4", SAVE.read_text())]) for name, _ in targets}
        if gone:
            out[gone] = NetnsTables(gone, error=f"namespace {gone} vanished")
        return out

    c = Collectors(
        docker=lambda: data,
        netlink=NetlinkData,
        firewall=FirewallData,
        netnsids=lambda pids: dict.fromkeys(pids),
        conntrack=ConntrackData,
        sysctl=SysctlData,
        routing=lambda interfaces: None,
        netns_views=lambda pids, names: ({cid: NetnsView() for cid in pids}, []),
        netns_tables=reader,
    )
    part = collect_parts(("docker",), c)["docker"]
    assert part.source.ok, part.source.error
    result: DockerData = part.data
    return result


def test_nothing_is_read_without_a_swarm() -> None:
    asked: list[list[tuple[str, str]]] = []
    data = _read(
        DockerData(networks=[BRIDGE], containers=[_container(WEB, "web", BRIDGE, 7)]), asked
    )
    assert asked == []
    assert data.containers[0].inside == NetnsView()


def test_ingress_sbox_and_the_tasks_are_read() -> None:
    asked: list[list[tuple[str, str]]] = []
    sbox = DockerNamespace("ingress_sbox", "ingress_sbox", "/var/run/docker/netns/ingress_sbox")
    overlay = DockerNamespace("1-abc", "overlay", "/var/run/docker/netns/1-abc")
    data = DockerData(
        networks=[BRIDGE, INGRESS],
        containers=[_container(TASK, "nxweb.1.x", INGRESS, 11), _container(WEB, "web", BRIDGE, 7)],
        namespaces=[overlay, sbox],
    )
    data = _read(data, asked, gone="ct:" + TASK)
    assert asked == [
        [("ingress_sbox", "/var/run/docker/netns/ingress_sbox"), ("ct:" + TASK, "/proc/11/ns/net")]
    ]
    by_name = {ns.name: ns for ns in data.namespaces}
    assert by_name["1-abc"].rules == []
    assert by_name["ingress_sbox"].rules
    assert {r.netns for r in by_name["ingress_sbox"].rules} == {"ingress_sbox"}
    # the task's namespace vanished: no rules, and a sentence naming the container
    task, web = data.containers
    assert task.inside is not None and task.inside.rules == []
    assert "netfilter tables of container nxweb.1.x: namespace ct:" in " ".join(data.mesh_warnings)
    assert web.inside is not None and web.inside.rules == []
