"""parse_netlink on a recorded real dump, checked against `ip`/`bridge` JSON of the same moment.

The recording (tests/recorded/netlink, see its README) holds the pyroute2 messages of
one RTM_GETLINK and one RTM_GETADDR dump plus ``ip -j -d link show``, ``ip -j addr``
and ``bridge -j link`` taken right around it. No kernel access here.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from netlink_views import model_view, truth_from_ip

from netexplorer.collect import netlink_source as ns
from netexplorer.collect.errors import SourceError
from netexplorer.collect.netlink_source import (
    NetlinkData,
    flag_names,
    parse_netlink,
    plain_from_json,
)

REC = Path(__file__).resolve().parents[1] / "recorded" / "netlink"


def _load(name: str) -> Any:
    return plain_from_json(json.loads((REC / f"{name}.json").read_text()))


@pytest.fixture(scope="module")
def parsed() -> NetlinkData:
    return parse_netlink(_load("links"), _load("addrs"))


# ------------------------------------------------------------------ ground truth helpers
def test_recorded_dump_matches_ip_and_bridge_output(parsed: NetlinkData) -> None:
    ip_link = _load("ip_link")
    truth = truth_from_ip(ip_link, _load("ip_addr"), _load("bridge_link"))
    with_mac = {link["ifindex"] for link in ip_link if "address" in link}
    assert model_view(parsed, with_mac) == truth
    assert parsed.warnings == []


def test_orders(parsed: NetlinkData) -> None:
    indexes = [i.ifindex for i in parsed.interfaces]
    assert indexes == sorted(indexes)
    names = [b.name for b in parsed.bridges]
    assert names == sorted(names)
    for bridge in parsed.bridges:
        ports = [p.ifindex for p in bridge.ports]
        assert ports == sorted(ports)


def test_recorded_details(parsed: NetlinkData) -> None:
    by_name = {i.name: i for i in parsed.interfaces}
    bridges = {b.name: b for b in parsed.bridges}
    # a name that is not UTF-8 and holds quotes and '<' is kept literally
    odd = os.fsdecode(b'nxnl-\xff"<q')
    assert odd in by_name and by_name[odd].kind == "bridge"
    assert os.fsencode(by_name[odd].name) == b'nxnl-\xff"<q'
    # STP bridge with a port still listening and one down (disabled)
    rbr = bridges["nxnl-rbr"]
    assert rbr.stp is True
    assert [(p.name, p.state) for p in rbr.ports] == [
        ("nxnl-r0", "listening"),
        ("nxnl-r1", "disabled"),
    ]
    assert [a.cidr for a in by_name["nxnl-rbr"].addresses if a.family == "inet"] == [
        "198.51.100.1/24"
    ]
    # veth with the peer in the same netns: peer by index, no netnsid, ip's M-DOWN
    r1 = by_name["nxnl-r1"]
    assert r1.link_ifindex == by_name["nxnl-r1p"].ifindex
    assert r1.link_netnsid is None
    assert r1.flags[-1] == "M-DOWN"
    # veth with the peer in another netns
    r0 = by_name["nxnl-r0"]
    assert r0.link_netnsid is not None and r0.link_ifindex is not None
    assert "M-DOWN" not in r0.flags
    # docker0 and its ports carry master name and index
    docker0 = bridges["docker0"]
    for port in docker0.ports:
        iface = next(i for i in parsed.interfaces if i.ifindex == port.ifindex)
        assert (iface.master, iface.master_ifindex) == ("docker0", docker0.ifindex)
        assert iface.kind == "veth" and iface.link_netnsid is not None
    lo = by_name["lo"]
    assert lo.kind == "" and lo.flags == ["LOOPBACK", "UP", "LOWER_UP"]
    assert {(a.family, a.scope) for a in lo.addresses} == {("inet", "host"), ("inet6", "host")}


def test_parse_is_pure(parsed: NetlinkData) -> None:
    again = parse_netlink(_load("links"), _load("addrs"))
    assert again == parsed


# ------------------------------------------------------------------ synthetic messages
def _link(index: int, name: Any, flags: int = 0x1043, **attrs: Any) -> dict[str, Any]:
    return {
        "index": index,
        "flags": flags,
        "attrs": [["IFLA_IFNAME", name], *([k, v] for k, v in attrs.items())],
    }


def test_flag_names_like_ip() -> None:
    assert flag_names(0x11043) == ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]
    # up without carrier
    assert flag_names(0x1003) == ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"]
    # bits ip has no name for come last, in hex
    assert flag_names(0x1 | 0x40 | 0x100000) == ["UP", "100000"]


def test_inconsistent_dump_gives_warnings_not_errors() -> None:
    links = [
        _link(3, "p0", IFLA_MASTER=99, IFLA_OPERSTATE=6),
        {"attrs": []},
        _link(
            4,
            "b0",
            IFLA_LINKINFO={
                "attrs": [["IFLA_INFO_KIND", "bridge"], ["IFLA_INFO_DATA", {"attrs": []}]]
            },
        ),
        _link(
            5,
            "p1",
            IFLA_MASTER=4,
            IFLA_LINKINFO={
                "attrs": [
                    ["IFLA_INFO_KIND", "veth"],
                    ["IFLA_INFO_SLAVE_KIND", "bridge"],
                    ["IFLA_INFO_SLAVE_DATA", {"attrs": [["IFLA_BRPORT_STATE", 9]]}],
                ]
            },
        ),
    ]
    addrs = [
        {
            "family": 2,
            "index": 77,
            "prefixlen": 8,
            "scope": 0,
            "attrs": [["IFA_ADDRESS", "10.0.0.1"]],
        },
        {"family": 10, "index": 5, "prefixlen": 64, "scope": 42, "attrs": [["IFA_ADDRESS", "::5"]]},
    ]
    data = parse_netlink(links, addrs)
    assert [i.ifindex for i in data.interfaces] == [3, 4, 5]
    p0 = data.interfaces[0]
    assert p0.operstate == "UP" and p0.master is None and p0.master_ifindex == 99
    assert [(p.name, p.state) for p in data.bridges[0].ports] == [("p1", "9")]
    assert data.bridges[0].stp is False
    assert [a.scope for a in data.interfaces[2].addresses] == ["42"]
    assert len(data.warnings) == 3  # no ifindex, unknown master, address without link


# ------------------------------------------------------------------ faults in words
class _FakeNsids:
    """Stands in for the RTM_GETNSID batch: a reply per fd, by the inode it opens."""

    replies: dict[int, Any] = {}

    @classmethod
    def ask(cls, fds: list[int]) -> list[Any]:
        return [cls.replies.get(os.fstat(fd).st_ino) for fd in fds]


def test_not_root_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(path: str, flags: int) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(ns, "_ask_nsids", _FakeNsids.ask)
    monkeypatch.setattr(os, "open", denied)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SourceError, match=r"sudo") as err:
        ns.netnsids_for_pids([4242])
    assert "/proc/<pid>/ns/net" in str(err.value) and "4242" in str(err.value)
    # as root the same refusal (e.g. a pid outside our reach) is just unknown
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert ns.netnsids_for_pids([4242]) == {4242: None}


def test_vanished_and_unassigned(monkeypatch: pytest.MonkeyPatch) -> None:
    own = os.stat(f"/proc/{os.getpid()}/ns/net").st_ino
    monkeypatch.setattr(ns, "_ask_nsids", _FakeNsids.ask)
    monkeypatch.setattr(_FakeNsids, "replies", {own: 0xFFFFFFFF})
    gone = 2**22 + 12345  # above pid_max: no such process
    assert ns.netnsids_for_pids([os.getpid(), gone, 0]) == {os.getpid(): None, gone: None, 0: None}
    monkeypatch.setattr(_FakeNsids, "replies", {own: 7})
    assert ns.netnsids_for_pids([os.getpid()]) == {os.getpid(): 7}
    assert ns.netnsids_for_pids([]) == {}
