"""The selective rtnetlink parser against pyroute2's full decode of a recorded dump.

The recorded messages (tests/recorded/netlink, pyroute2's decode of a real dump)
are encoded back to wire bytes by pyroute2 with the attributes the model reads and
a few it skips; the selective parser must give the recorded values, and the whole
model built from its output must equal the one built from the recorded dump.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from netexplorer.collect.netlink_select import (
    RTM_NEWADDR,
    RTM_NEWLINK,
    addr_message,
    link_message,
    selective_parser,
)
from netexplorer.collect.netlink_source import parse_netlink, plain_from_json

RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "netlink"
LINK_READ = (
    "IFLA_ADDRESS",
    "IFLA_IFNAME",
    "IFLA_MTU",
    "IFLA_LINK",
    "IFLA_MASTER",
    "IFLA_OPERSTATE",
    "IFLA_LINKINFO",
    "IFLA_LINK_NETNSID",
)
#: recorded attributes encoded too, so that the parser has to step over them
LINK_SKIPPED = ("IFLA_TXQLEN", "IFLA_GROUP", "IFLA_PROMISCUITY", "IFLA_CARRIER")
ADDR_READ = ("IFA_ADDRESS", "IFA_LOCAL")
ADDR_SKIPPED = ("IFA_LABEL", "IFA_FLAGS")
_OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")


def _load(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = plain_from_json(json.loads((RECORDED / name).read_text()))
    return data


def _linkinfo_read(value: dict[str, Any]) -> dict[str, Any]:
    """The recorded IFLA_LINKINFO cut to what the model reads."""
    keep = {"IFLA_BR_STP_STATE", "IFLA_BRPORT_STATE"}
    out = []
    kinds = {k: v for k, v in value["attrs"] if k in ("IFLA_INFO_KIND", "IFLA_INFO_SLAVE_KIND")}
    for key, item in value["attrs"]:
        if key in ("IFLA_INFO_KIND", "IFLA_INFO_SLAVE_KIND"):
            out.append([key, item])
        elif key in ("IFLA_INFO_DATA", "IFLA_INFO_SLAVE_DATA"):
            kind = kinds.get(
                "IFLA_INFO_KIND" if key == "IFLA_INFO_DATA" else "IFLA_INFO_SLAVE_KIND"
            )
            if kind == "bridge":
                out.append([key, {"attrs": [a for a in item["attrs"] if a[0] in keep]}])
    return {"attrs": out}


def _wire_link(recorded: dict[str, Any]) -> bytes:
    msg = ifinfmsg()
    msg["header"]["type"] = RTM_NEWLINK
    for key in ("family", "ifi_type", "index", "flags", "change"):
        msg[key] = recorded[key]
    wanted = (*LINK_READ, *LINK_SKIPPED)
    for key, value in recorded["attrs"]:
        if key == "IFLA_LINKINFO":
            value = _linkinfo_read(value)
        if key in wanted:
            msg["attrs"].append([key, value])
    msg.encode()
    return bytes(msg.data)


def _wire_addr(recorded: dict[str, Any]) -> bytes:
    msg = ifaddrmsg()
    msg["header"]["type"] = RTM_NEWADDR
    for key in ("family", "prefixlen", "flags", "scope", "index"):
        msg[key] = recorded[key]
    wanted = (*ADDR_READ, *ADDR_SKIPPED)
    msg["attrs"] = [[k, v] for k, v in recorded["attrs"] if k in wanted]
    msg.encode()
    return bytes(msg.data)


def _expected_link(recorded: dict[str, Any]) -> list[list[Any]]:
    out = []
    for key, value in recorded["attrs"]:
        if key not in LINK_READ:
            continue
        if key == "IFLA_LINKINFO":
            value = _linkinfo_read(value)
        elif key == "IFLA_OPERSTATE":
            value = _OPERSTATES.index(value)
        elif key == "IFLA_IFNAME" and isinstance(value, bytes):
            value = value.decode("utf-8", "surrogateescape")
        out.append([key, value])
    return out


@pytest.mark.parametrize("index", range(len(_load("links.json"))))
def test_link_attributes_as_pyroute2_decodes_them(index: int) -> None:
    recorded = _load("links.json")[index]
    wire = _wire_link(recorded)
    got = link_message(wire, 0, len(wire))
    assert got["index"] == recorded["index"] and got["flags"] == recorded["flags"]
    assert got["attrs"] == _expected_link(recorded)


def test_address_attributes_as_pyroute2_decodes_them() -> None:
    for recorded in _load("addrs.json"):
        wire = _wire_addr(recorded)
        got = addr_message(wire, 0, len(wire))
        assert (got["family"], got["prefixlen"], got["scope"], got["index"]) == (
            recorded["family"],
            recorded["prefixlen"],
            recorded["scope"],
            recorded["index"],
        )
        assert got["attrs"] == [[k, v] for k, v in recorded["attrs"] if k in ADDR_READ]


def test_the_model_is_the_same_as_from_the_full_decode() -> None:
    links, addrs = _load("links.json"), _load("addrs.json")
    stream = b"".join(_wire_link(m) for m in links) + b"".join(_wire_addr(m) for m in addrs)

    class NoOther:
        def parse_one_message(self, *args: object) -> None:
            raise AssertionError("only RTM_NEWLINK/RTM_NEWADDR were sent")

    parse = selective_parser(NoOther())
    messages, offset = [], 0
    while offset < len(stream):
        length = int.from_bytes(stream[offset : offset + 4], "little")
        messages.append(parse(stream, offset, length))
        offset += length
    got_links = [m for m in messages if m["header"]["type"] == RTM_NEWLINK]
    got_addrs = [m for m in messages if m["header"]["type"] == RTM_NEWADDR]
    assert parse_netlink(got_links, got_addrs) == parse_netlink(links, addrs)
