"""The map of the live lab against ground truth read without netexplorer.

Each drawn veth label and the bridge its line ends on are the kernel's (the
container's ``iflink`` inside it, ``ip -j link``, ``bridge -j link``); the NAT
step is the MASQUERADE rule ``iptables-save`` shows, its counter moves with a
ping, and it leads to the interface of the host's default route (``ip -j
route``); web's published port comes in through the DNAT rule for 8080; an IPv6
network shows its NAT66 rule. ``m`` in the app shows the same drawing, and
``netexplorer map --format dot`` goes through graphviz.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from integration import groundtruth as gt
from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.correlate import correlate
from netexplorer.map.layout import Drawing, draw
from netexplorer.map.model import HostMap, build_map
from netexplorer.ui.app import create_app
from netexplorer.ui.screens.map import MapScreen

pytestmark = pytest.mark.integration

MASQ_DEFAULT = "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"


def live_map() -> tuple[HostMap, Drawing]:
    snap = collect_snapshot()
    hmap = build_map(snap, correlate(snap))
    return hmap, draw(hmap, frozenset())


def line_of(d: Drawing, words: str) -> tuple[int, str]:
    found = [(i, line) for i, line in enumerate(d.lines) if f" {words} " in f"{line} "]
    assert len(found) == 1, (words, found)
    return found[0]


def bus_column(d: Drawing, bridge: str) -> int:
    """The column of a bridge's bus: where its header's name starts."""
    return min(r.start for r in d.regions if r.key == f"br:{bridge}")


def default_route_dev() -> str:
    routes: list[dict[str, Any]] = json.loads(gt.run("ip", "-j", "route", "show", "default"))
    return str(routes[0]["dev"])


def test_each_drawn_veth_and_bridge_is_the_kernels(lab: str) -> None:
    hmap, d = live_map()
    links, ports = gt.host_links(), gt.bridge_ports()
    for name in gt.LAB_CONTAINERS:
        ct = next(c for c in hmap.containers if c.name == name)
        truth = set()
        for iflink in gt.ground_truth_iflink(name).values():
            veth = links[iflink]["ifname"]
            truth.add((veth, ports[veth]))
            # drawn: the veth's label on a line ending on its bridge's bus
            _, line = line_of(d, veth)
            col = bus_column(d, ports[veth])
            assert line[col] == "┤", line
            assert set(line[line.index(f" {veth} ") + len(veth) + 2 : col]) == {"─"}, line
        drawn = {(lk.label, hmap.bus(lk.bus_key).device) for lk in ct.links}  # type: ignore[union-attr]
        assert drawn == truth, name
        # each container once, whatever its networks
        assert sum(1 for r in d.regions if r.key == ct.key and d.lines[r.row][r.start:r.end]
                   .startswith(name)) == 1  # fmt: skip
    web = next(c for c in hmap.containers if c.name == "web")
    assert {hmap.bus(lk.bus_key).network for lk in web.links} == {"bridge", gt.LAB_NETWORK}  # type: ignore[union-attr]


def test_docker0_goes_through_masquerade_to_the_default_routes_interface(lab: str) -> None:
    mode = gt.active_iptables_mode()
    assert MASQ_DEFAULT in gt.iptables_save(mode, "nat").splitlines()
    hmap, d = live_map()
    docker0 = hmap.bus("br:docker0")
    assert docker0 is not None
    [step] = [s for s in docker0.nat if s.text == MASQ_DEFAULT]
    dev = default_route_dev()
    assert hmap.egress is not None and hmap.egress.name == dev
    _, line = line_of(d, "MASQUERADE 172.17.0.0/16")
    assert f"└─ MASQUERADE 172.17.0.0/16 · {step.packets} pkts ─▶ {dev} ─▶ internet" in line
    # the counter is the kernel's: one new flow through docker0 counts one packet
    route = gt.route_get(gt.INET_ADDR)
    assert route.get("dev") == gt.INET_HOST_IF, f"refusing to ping: {route}"
    gt.run("docker", "exec", "test1", "ping", "-c1", "-W2", gt.INET_ADDR)
    after, _ = live_map()
    moved = next(s for s in after.bus("br:docker0").nat if s.text == MASQ_DEFAULT)  # type: ignore[union-attr]
    assert moved.packets > step.packets


def test_web_publishes_8080_through_its_dnat_rule(lab: str) -> None:
    hmap, d = live_map()
    web = next(c for c in hmap.containers if c.name == "web")
    v4 = next(p for p in web.ports if p.host_port == gt.WEB_HOST_PORT and ":" not in p.host_ip)
    assert v4.rule_text is not None and v4.rule_key is not None
    saved = gt.iptables_save(gt.active_iptables_mode(), "nat").splitlines()
    assert v4.rule_text in saved and f"--dport {gt.WEB_HOST_PORT} -j DNAT" in v4.rule_text
    assert f"--to-destination {gt.container_ips('web')['bridge']}:80" in v4.rule_text
    row, line = line_of(d, f"0.0.0.0:{gt.WEB_HOST_PORT}")
    assert any(r.key == v4.rule_key and r.row == row for r in d.regions), line


@pytest.fixture
def v6_network(lab: str) -> Iterator[tuple[str, str, str]]:
    """A throwaway IPv6 network with a container on it: (network, subnet, container)."""
    tag = uuid.uuid4().hex[:6]
    net, subnet, name = f"nxt-{tag}-v6", f"fd00:6e79:{int(tag[:4], 16):x}::/64", f"nxt-{tag}"
    try:
        gt.run("docker", "network", "create", "--label", gt.THROWAWAY_LABEL, "--ipv6",
               "--subnet", subnet, net)  # fmt: skip
        gt.create_container(name, (net,))
        yield net, subnet, name
    finally:
        gt.remove_container(name)
        gt.run("docker", "network", "rm", net, check=False)


def test_an_ipv6_network_shows_its_nat66(v6_network: tuple[str, str, str]) -> None:
    net, subnet, name = v6_network
    bridge = gt.bridge_ifname(net)
    text = f"-A POSTROUTING -s {subnet} ! -o {bridge} -j MASQUERADE"
    assert text in gt.iptables_save(gt.active_iptables_mode(), "nat", "ipv6").splitlines()
    hmap, d = live_map()
    bus = hmap.bus(f"br:{bridge}")
    assert bus is not None and subnet in bus.subnets
    assert [s.family for s in bus.nat if s.text == text] == ["ipv6"]
    assert any(f"MASQUERADE {subnet} (NAT66)" in line for line in d.lines)
    v6 = gt.docker_inspect(name)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"]
    assert v6 and any(v6 in line for line in d.lines)


async def test_m_shows_the_lab_map(lab: str) -> None:
    app = create_app(source=collect_snapshot)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("slash", *"test1", "enter")
        await pilot.pause()
        await pilot.press("m")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MapScreen)
        assert screen.view.cursor_key == app.selected
        text = "\n".join(screen.view.drawing.lines)
        for name in gt.LAB_CONTAINERS:
            for iflink in gt.ground_truth_iflink(name).values():
                assert f" {gt.host_links()[iflink]['ifname']} " in text
        assert "MASQUERADE 172.17.0.0/16" in text


def test_map_dot_goes_through_graphviz(lab: str) -> None:
    dot = subprocess.run(
        [sys.executable, "-m", "netexplorer", "map", "--format", "dot"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert dot.returncode == 0, dot.stderr
    svg = subprocess.run(["dot", "-Tsvg"], input=dot.stdout, capture_output=True, text=True)
    assert svg.returncode == 0, svg.stderr
    assert "<svg" in svg.stdout
    for name in gt.LAB_CONTAINERS:
        assert f">{name}</text>" in svg.stdout
