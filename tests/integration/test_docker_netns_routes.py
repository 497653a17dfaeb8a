"""Docker's own namespaces' routes, policy rules and forwarding, checked against `ip`.

Ground truth is ``nsenter --net=<path> ip -j route show table all`` (and ``table
main``, ``-6``, ``ip -j rule``) and ``cat /proc/sys/net/ipv4/ip_forward`` run
inside each namespace of ``/var/run/docker/netns`` that the one-node swarm makes
(fixture ``one_node_swarm``: the ingress overlay's ``1-<id>``, ``ingress_sbox``,
``lb_*``; on this host's kernel without IPVS too). A private namespace (``unshare
--net``) bound as ``ingress_sbox`` in a directory of our own
(NETEXPLORER_DOCKER_NETNS_DIR) holds routes and rules of every kind and the
opposite of the host's ip_forward, so reading the host's value instead of the
namespace's would fail. Everything made here is removed in ``finally``.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from netns_views import model_routes, model_rules, truth_routes, truth_rules

from netexplorer.collect.overlay_source import collect_namespaces, list_namespaces

from . import groundtruth as gt
from .scratch_netns import ROUTING_SETUP, ip_truth, private_netns

pytestmark = pytest.mark.integration

IP_FORWARD = "net.ipv4.ip_forward"


def _inside(path: str, *argv: str) -> str:
    return gt.run("nsenter", f"--net={path}", *argv)


def _ip_forward(path: str) -> str:
    return _inside(path, "cat", "/proc/sys/net/ipv4/ip_forward").strip()


def _main_truth(path: str) -> list[str]:
    """``ip -j route show table main`` inside, as route texts without their flags."""
    routes: list[dict[str, Any]] = json.loads(
        _inside(path, "ip", "-j", "route", "show", "table", "main") or "[]"
    )
    out = []
    for r in routes:
        words = [] if r.get("type", "unicast") == "unicast" else [r["type"]]
        words.append(r["dst"])
        for key, word in (("gateway", "via"), ("dev", "dev")):
            if key in r:
                words += [word, r[key]]
        if r.get("protocol", "boot") != "boot":
            words += ["proto", r["protocol"]]
        if r.get("scope", "universe") != "universe":
            words += ["scope", r["scope"]]
        for key, word in (("prefsrc", "src"), ("metric", "metric")):
            if key in r:
                words += [word, str(r[key])]
        out.append(" ".join(words))
    return sorted(out)


def test_each_docker_namespace_routes_rules_and_forwarding_match_ip(
    one_node_swarm: None,
) -> None:
    paths = dict(list_namespaces())
    assert "ingress_sbox" in paths and any(n.startswith("1-") for n in paths), paths
    spaces = {ns.name: ns for ns in collect_namespaces()}
    assert set(spaces) == set(paths)
    for name, path in paths.items():
        ns = spaces[name]
        assert ns.error is None, (name, ns.error)
        truth = ip_truth(path=path)
        assert model_routes(ns.routes) == truth_routes(truth["ip4_route"], truth["ip6_route"]), name
        assert model_rules(ns.ip_rules) == truth_rules(truth["ip4_rule"], truth["ip6_rule"]), name
        main = sorted(r.text() for r in ns.routes if r.family == "inet" and r.table == 254)
        assert main == _main_truth(path), name
        assert ns.sysctls[IP_FORWARD] == _ip_forward(path), name
    # ingress_sbox reaches the ingress overlay and docker_gwbridge by routes read,
    # the connected route of each of its legs
    sbox = spaces["ingress_sbox"]
    legs = [(i, a) for i in sbox.interfaces for a in i.addresses if a.family == "inet"]
    legs = [(i, a) for i, a in legs if a.scope == "global"]
    assert len(legs) >= 2, legs
    for iface, a in legs:
        net = str(ipaddress.ip_interface(a.cidr).network)
        assert any(
            r.dst == net and r.dev == iface.name and r.prefsrc == a.address and r.table == 254
            for r in sbox.routes
        ), (net, [r.text() for r in sbox.routes])


@pytest.fixture
def bound_scratch(lab: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A private namespace with ROUTING_SETUP and the opposite of the host's
    ip_forward, bound at ``<tmp>/ingress_sbox``; yields (directory, path)."""
    host = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    other = "0" if host == "1" else "1"
    with private_netns(ROUTING_SETUP) as pid:
        path = tmp_path / "ingress_sbox"
        path.touch()
        gt.run("mount", "--bind", f"/proc/{pid}/ns/net", str(path))
        try:
            gt.run(
                "nsenter",
                "-t",
                str(pid),
                "-n",
                "sh",
                "-c",
                f"echo {other} > /proc/sys/net/ipv4/ip_forward",
            )
            yield str(tmp_path), str(path)
        finally:
            subprocess.run(["umount", str(path)], check=False)


def test_forwarding_is_the_namespace_own_not_the_host(
    bound_scratch: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, path = bound_scratch
    monkeypatch.setenv("NETEXPLORER_DOCKER_NETNS_DIR", directory)
    (ns,) = collect_namespaces()
    assert ns.name == "ingress_sbox" and ns.error is None
    host = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    assert ns.sysctls[IP_FORWARD] == _ip_forward(path) != host
    truth = ip_truth(path=path)
    assert model_routes(ns.routes) == truth_routes(truth["ip4_route"], truth["ip6_route"])
    assert model_rules(ns.ip_rules) == truth_rules(truth["ip4_rule"], truth["ip6_rule"])
    assert "prohibit 10.67.0.0/16 table 300" in {r.text() for r in ns.routes}
