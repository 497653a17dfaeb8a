"""The read ahead of the Docker source: namespaces read from /proc's pids while Docker
answers (in a forked child, or a thread), used for the containers Docker then lists;
what it could not read cleanly is read again with the containers' names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from netexplorer.collect import forked
from netexplorer.collect import snapshot as snapshot_module
from netexplorer.collect.conntrack_source import ConntrackData
from netexplorer.collect.docker_source import DockerData
from netexplorer.collect.firewall import FirewallData
from netexplorer.collect.netlink_source import NetlinkData
from netexplorer.collect.snapshot import Collectors, collect_parts
from netexplorer.collect.sysctl_source import SysctlData
from netexplorer.model import Container, Interface, NetnsView

A, B, SIDECAR = "a" * 64, "b" * 64, "c" * 64
PIDS = {A: 101, B: 202, SIDECAR: 303}


def _view(name: str) -> NetnsView:
    return NetnsView(interfaces=[Interface(ifindex=2, name=name, kind="veth", operstate="UP")])


def _collectors(reread: list[tuple[dict[str, int], dict[str, str]]]) -> Collectors:
    def docker(known_pids: Callable[[], Mapping[str, int]]) -> DockerData:
        pids = known_pids()
        return DockerData(
            containers=[
                Container(A, "one", "busybox", "running", "bridge", pid=pids[A]),
                Container(B, "two", "busybox", "running", "bridge", pid=pids[B]),
                Container(
                    SIDECAR,
                    "side",
                    "busybox",
                    "running",
                    f"container:{A}",
                    pid=pids[SIDECAR],
                    netns_owner=A,
                ),
            ]
        )

    def netns_views(
        pids: Mapping[str, int], names: Mapping[str, str]
    ) -> tuple[dict[str, NetnsView], list[str]]:
        reread.append((dict(pids), dict(names)))
        return {key: _view(f"again-{names[key]}") for key in pids}, []

    return Collectors(
        docker=docker,
        netlink=NetlinkData,
        firewall=FirewallData,
        netnsids=lambda pids: {p: p // 100 for p in pids},
        conntrack=ConntrackData,
        sysctl=SysctlData,
        routing=lambda interfaces: None,
        netns_views=netns_views,
        pids=lambda: dict(PIDS),
        # pid 202's namespace vanished while it was read ahead: left out
        views_ahead=lambda pids: {p: _view(f"ahead-{p}") for p in pids if p != 202},
    )


@pytest.mark.parametrize("fork", [True, False])
def test_read_ahead_used_and_the_rest_read_with_names(
    monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    if fork:
        monkeypatch.setattr(forked.threading, "active_count", lambda: 1)
    else:
        monkeypatch.setattr(snapshot_module, "fork_call", lambda *args: None)
    reread: list[tuple[dict[str, int], dict[str, str]]] = []
    part = collect_parts(("docker",), _collectors(reread))["docker"]
    assert part.source.ok, part.source.error
    data: Any = part.data
    by_name = {c.name: c for c in data.containers}
    assert by_name["one"].inside == _view("ahead-101")
    assert by_name["one"].netnsid == 1 and by_name["side"].netnsid == 3
    # what the read ahead left out is read again, with the container's name
    assert reread == [({B: 202}, {B: "two"})]
    assert by_name["two"].inside == _view("again-two")
    # a container: sidecar shows its owner's namespace, not one of its own
    assert by_name["side"].inside is None
