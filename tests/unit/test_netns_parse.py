"""Namespaces' routes, rules and interfaces parsed from recorded real dumps, against `ip`.

The recordings (tests/recorded/netns, see its README) hold the four rtnetlink dumps
of the lab's test1 and web, of the host and of a scratch namespace with routes and
rules of every kind, plus what `ip -j` and `ip` printed inside at the same moment.
No kernel access here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from netns_views import ip_views, model_views
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

from netexplorer.collect.netns_source import decode_dump, parse_netns
from netexplorer.model import NetnsView, Route, is_default_rule

REC = Path(__file__).resolve().parents[1] / "recorded" / "netns"
NAMES = ("test1", "web", "host", "scratch")


def buffers(name: str) -> dict[str, list[bytes]]:
    doc = json.loads((REC / f"{name}.dumps.json").read_text())
    return {kind: [bytes.fromhex(h) for h in chunks] for kind, chunks in doc.items()}


def load(name: str) -> tuple[NetnsView, dict[str, Any]]:
    """The recorded wire bytes decoded and parsed as a live read does, and `ip`'s truth."""
    dumps = {kind: decode_dump(chunks) for kind, chunks in buffers(name).items()}
    truth = json.loads((REC / f"{name}.truth.json").read_text())
    view = parse_netns(dumps["links"], dumps["addrs"], dumps["routes"], dumps["rules"])
    return view, truth


@pytest.mark.parametrize("name", NAMES)
def test_recorded_namespace_matches_ip(name: str) -> None:
    view, truth = load(name)
    assert model_views(view) == ip_views(truth)


@pytest.mark.parametrize("name", NAMES)
def test_texts_are_what_ip_prints(name: str) -> None:
    view, truth = load(name)
    # `ip` prints a multipath route over several lines; the model keeps its first hop
    multipath = {r["dst"] for r in truth["ip4_route"] if "nexthops" in r}
    v4 = [r.text() for r in view.routes if r.family == "inet" and r.dst not in multipath]
    lines = [
        line
        for line in truth["ip4_route_text"]
        if not line.startswith("nexthop") and line not in multipath
    ]
    assert sorted(v4) == sorted(lines)
    rules = [r.text() for r in view.ip_rules]
    assert sorted(rules) == sorted(truth["ip_rule_text"])


def test_a_container_sees_its_veth_end_and_default_route() -> None:
    view, _ = load("web")
    names = [i.name for i in view.interfaces]
    assert names == ["lo", "eth0", "eth1"]
    eth0 = view.interface_with_address("172.17.0.4")
    assert eth0 is not None and eth0.name == "eth0" and eth0.link_ifindex
    assert next(r.text() for r in view.main_routes() if r.family == "inet") == (
        "default via 172.17.0.1 dev eth0"
    )
    assert all(is_default_rule(r) for r in view.ip_rules)


def test_scratch_rules_beyond_the_defaults() -> None:
    view, _ = load("scratch")
    extra = [r.text() for r in view.ip_rules if not is_default_rule(r)]
    assert extra == [
        "100: from 10.9.0.0/24 to 10.77.0.0/16 fwmark 0x5/0xff iif lo lookup 100",
        "101: not from all to 10.88.0.0/16 oif d0 lookup 200",
        "102: from 10.1.0.0/16 blackhole",
        "103: from all goto 32766",
        "200: from fd00:9::/64 lookup 100",
    ]


def test_a_multipath_route_is_shown_by_its_first_hop() -> None:
    view, _ = load("scratch")
    route = next(r for r in view.routes if r.dst == "10.99.0.0/16")
    assert (route.gateway, route.dev) == ("10.9.0.3", "d0")


FULL_READ = {
    "routes": ("RTA_DST", "RTA_OIF", "RTA_GATEWAY", "RTA_PRIORITY", "RTA_PREFSRC", "RTA_TABLE"),
    "rules": (
        "FRA_DST",
        "FRA_SRC",
        "FRA_IIFNAME",
        "FRA_GOTO",
        "FRA_PRIORITY",
        "FRA_FWMARK",
        "FRA_TABLE",
        "FRA_FWMASK",
        "FRA_OIFNAME",
    ),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", list(FULL_READ))
def test_selective_decoding_agrees_with_pyroute2(name: str, kind: str) -> None:
    """Routes and rules decoded selectively carry what pyroute2's full decode gives."""
    ours = decode_dump(buffers(name)[kind])
    full = [
        m
        for data in buffers(name)[kind]
        for m in MarshalRtnl().parse(data)
        if m["header"]["type"] not in (2, 3)
    ]
    assert len(ours) == len(full)
    fields = ("family", "dst_len", "src_len", "table", "flags")
    fields += ("proto", "scope", "type") if kind == "routes" else ("action",)
    for mine, theirs in zip(ours, full, strict=True):
        assert {f: mine[f] for f in fields} == {f: theirs[f] for f in fields}
        if theirs["family"] not in (2, 10):
            continue  # multicast routing and other families: not read
        read = FULL_READ[kind]
        assert {k: v for k, v in mine["attrs"] if k in read} == {
            k: theirs.get_attr(k) for k in read if theirs.get_attr(k) is not None
        }


def test_route_prefix_lengths() -> None:
    assert Route("inet", "default").prefixlen == 0
    assert Route("inet", "203.0.113.1/32").prefixlen == 32
    assert Route("inet6", "fd00::/64").prefixlen == 64
    assert Route("inet", "203.0.113.1/32", gateway="198.51.100.2", dev="nx-inet0").text() == (
        "203.0.113.1 via 198.51.100.2 dev nx-inet0"
    )
