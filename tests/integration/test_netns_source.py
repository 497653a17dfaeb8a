"""Containers' own network namespaces and the host's routes, checked against `ip -j`.

Ground truth is `nsenter -t PID -n ip -j ...` inside each lab container, and `ip -j`
on the host. A private scratch namespace (``unshare --net``) holds routes and rules
of every kind the model knows; a throwaway container (``nxt-*``) is removed to make
the vanished-container fault real. Everything made here is removed in ``finally``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_views import ip_views, model_routes, model_rules, model_views

from netexplorer.collect.netlink_source import collect_netlink
from netexplorer.collect.netns_source import read_host_routing, read_netns_views
from netexplorer.collect.snapshot import collect_snapshot

from . import groundtruth as gt
from .scratch_netns import ROUTING_SETUP, ip_truth, private_netns

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_lab_containers_inside_match_ip_in_their_namespace(lab: str) -> None:
    pids = {name: gt.container_pid(name) for name in gt.LAB_CONTAINERS}
    views, warnings = read_netns_views(pids, {n: n for n in pids})
    assert warnings == []
    for name, pid in pids.items():
        view = views[name]
        assert view.error is None, view.error
        assert model_views(view) == ip_views(ip_truth(pid)), name


def test_snapshot_names_the_container_side_as_ip_a_inside_does(lab: str) -> None:
    snap = collect_snapshot()
    by_name = {c.name: c for c in snap.containers}
    for name in gt.LAB_CONTAINERS:
        ct = by_name[name]
        assert ct.inside is not None and ct.inside.error is None
        iflinks = gt.ground_truth_iflink(name)  # /sys/class/net/IF/iflink via docker exec
        ifindexes = gt.ground_truth_ifindex(name)
        for ep in ct.endpoints:
            inner = ct.inside.interface_for(ep)
            assert inner is not None, (name, ep.network)
            assert inner.link_ifindex == iflinks[inner.name]
            assert inner.ifindex == ifindexes[inner.name]
            # the @ifN inside is the host veth's ifindex, and the other way round
            host = next(i for i in snap.interfaces if i.ifindex == inner.link_ifindex)
            assert host.kind == "veth" and host.link_ifindex == inner.ifindex
        default = next(r for r in ct.inside.routes if r.dst == "default")
        truth_default = gt.run("nsenter", "-t", str(ct.pid), "-n", "ip", "route", "show", "default")
        assert default.text() == truth_default.strip()


def _settled(read: Any, truth: Any, attempts: int = 5) -> tuple[Any, Any]:
    """Our read between two equal ground-truth reads (the shared host changes)."""
    for _ in range(attempts):
        before = truth()
        ours = read()
        if truth() == before:
            return ours, before
        time.sleep(0.5)
    pytest.fail("the host's routes kept changing while they were read")


def test_host_routes_and_rules_match_ip(lab: str) -> None:
    def read() -> Any:
        routing = read_host_routing(collect_netlink().interfaces)
        return model_routes(routing.routes), model_rules(routing.ip_rules)

    def truth() -> Any:
        t = ip_views(ip_truth())
        return t["routes"], t["rules"]

    (routes, rules), (true_routes, true_rules) = _settled(read, truth)
    assert routes == true_routes
    assert rules == true_rules
    snap = collect_snapshot()
    lab_route = next(r for r in snap.routes if r.dst == f"{gt.INET_ADDR}/32")
    assert lab_route.text() == f"{gt.INET_ADDR} via {gt.INET_NETNS_ADDR} dev {gt.INET_HOST_IF}"


@pytest.fixture
def scratch_netns(lab: str) -> Iterator[int]:
    """A private namespace (``unshare --net``: nothing on the host changes) with routes
    and rules of every kind; yields the pid of its process."""
    with private_netns(ROUTING_SETUP) as pid:
        yield pid


def test_every_kind_of_route_and_rule_matches_ip(scratch_netns: int) -> None:
    views, _ = read_netns_views({"scratch": scratch_netns})
    view = views["scratch"]
    assert view.error is None
    assert model_views(view) == ip_views(ip_truth(scratch_netns))
    texts = {r.text() for r in view.ip_rules}
    assert "100: from 10.9.0.0/24 to 10.77.0.0/16 fwmark 0x5/0xff iif lo lookup 100" in texts
    assert "101: not from all to 10.88.0.0/16 oif d0 lookup 200" in texts
    route_texts = {r.text() for r in view.routes}
    assert "10.77.0.0/16 via 10.9.0.2 dev d0 table 100 proto static" in route_texts
    assert "prohibit 10.67.0.0/16 table 300" in route_texts


def test_reading_forks_no_process(lab: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No process per container (pyroute2's netns helpers fork one per namespace)."""

    def no_fork(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a process was started to read a namespace")

    pids = {name: gt.container_pid(name) for name in gt.LAB_CONTAINERS}
    home = os.readlink("/proc/thread-self/ns/net")
    monkeypatch.setattr(os, "fork", no_fork)
    monkeypatch.setattr(subprocess, "Popen", no_fork)
    views, _ = read_netns_views(pids)
    assert all(v.error is None and v.interfaces for v in views.values())
    # and the reading thread came back: this thread is still in the host's namespace
    assert os.readlink("/proc/thread-self/ns/net") == home


def test_a_vanished_container_is_words_and_the_others_are_read(lab: str) -> None:
    name = gt.new_throwaway_name()
    try:
        gt.create_container(name)
        pid = gt.container_pid(name)
    finally:
        gt.remove_container(name)
    for _ in range(50):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.1)
    pids = {name: pid, "test1": gt.container_pid("test1")}
    views, warnings = read_netns_views(pids, {name: name, "test1": "test1"})
    error = views[name].error
    assert error is not None
    assert f"network namespace of {name}" in error and "refresh" in error
    assert views[name].interfaces == []
    assert views["test1"].error is None and views["test1"].interfaces
    assert warnings == []


def test_without_cap_sys_admin_each_container_says_why(lab: str) -> None:
    """As root but without CAP_SYS_ADMIN setns(2) is refused: words, no traceback."""
    pid = gt.container_pid("test1")
    code = (
        "import json\n"
        "from netexplorer.collect.netns_source import read_netns_views\n"
        f"views, warnings = read_netns_views({{'test1': {pid}}}, {{'test1': 'test1'}})\n"
        "print(json.dumps([views['test1'].error, warnings]))\n"
    )
    proc = subprocess.run(
        [
            "setpriv",
            "--bounding-set=-sys_admin",
            "--inh-caps=-sys_admin",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    error, warnings = json.loads(proc.stdout)
    assert "Permission denied" in error and "CAP_SYS_ADMIN" in error and "test1" in error
    assert "without those capabilities" in error
    assert len(warnings) == 1 and "test1" in warnings[0]


def test_namespaces_read_together_each_show_their_own_rules(scratch_netns: int) -> None:
    """Containers' default rules are decoded once per read: a namespace with other
    rules read between two containers still shows its own, and they theirs."""
    pids = {
        "test1": gt.container_pid("test1"),
        "scratch": scratch_netns,
        "test2": gt.container_pid("test2"),
    }
    views, warnings = read_netns_views(pids)
    assert warnings == []
    for key, pid in pids.items():
        assert views[key].error is None
        assert model_rules(views[key].ip_rules) == ip_views(ip_truth(pid))["rules"], key
    assert model_rules(views["scratch"].ip_rules) != model_rules(views["test1"].ip_rules)
