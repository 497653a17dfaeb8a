"""Only the rtnetlink attributes the model needs, decoded in pyroute2's receive path.

pyroute2 decodes every attribute of every message it receives; a link carries about
forty (counters, queue sizes, per-family configuration...), which at hundreds of
veths is most of the cost of a collection. A pyroute2 request may bring its own
message parser (``NetlinkRequest(..., parser=...)``, as pyroute2's own
``get_default_routes`` does): :func:`selective_parser` turns each RTM_NEWLINK,
RTM_NEWADDR, RTM_NEWROUTE and RTM_NEWRULE message into the plain form the
collectors' parsers read (``{"index": ..., "flags": ..., "attrs": [[name, value],
...]}``, the form ``message_to_plain`` gives of a fully decoded message), decoding
the attributes of the tables below and stepping over the others by their length.
Every other message (NLMSG_DONE, NLMSG_ERROR, ...) goes to pyroute2's own parser,
so the end of a dump, errors and NLM_F_DUMP_INTR are handled by pyroute2 as usual.
:func:`parse_messages` does the same for a datagram received on a plain socket.

Attribute numbers are the kernel's (linux/if_link.h, if_addr.h, rtnetlink.h,
fib_rules.h); values come out as pyroute2 gives them, except IFLA_OPERSTATE, left
a number (IF_OPER_*).
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

RTM_NEWLINK = 16
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
RTM_NEWRULE = 32
RTM_NEWNSID = 88
NLMSG_ERROR = 2
NLMSG_DONE = 3
#: NLMSG_DONE carrying extended acknowledgement attributes (decoded by pyroute2)
NLM_F_ACK_TLVS = 0x200
#: nlmsghdr: length, type, flags, sequence number, port id
_NLMSGHDR = struct.Struct("=IHHII")
#: ifinfomsg: family, (pad), type, index, flags, change
_IFINFOMSG = struct.Struct("=BxHiII")
#: ifaddrmsg: family, prefix length, flags, scope, index
_IFADDRMSG = struct.Struct("=BBBBI")
#: rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTMSG = struct.Struct("=BBBBBBBBI")
#: fib_rule_hdr: family, dst_len, src_len, tos, table, (res1, res2), action, flags
_FIB_RULE_HDR = struct.Struct("=BBBBBxxBI")
#: rtnexthop of RTA_MULTIPATH: length, flags, hops, ifindex
_RTNEXTHOP = struct.Struct("=HBBi")
_NLA = struct.Struct("=HH")
#: the attribute type without NLA_F_NESTED / NLA_F_NET_BYTEORDER
_NLA_TYPE = 0x3FFF

Decoder = Callable[[bytes, int, int], Any]
Table = Mapping[int, tuple[str, Decoder]]


def _u8(data: bytes, start: int, end: int) -> int:
    return data[start]


def _u32(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start : start + 4], sys.byteorder)


def _s32(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start : start + 4], sys.byteorder, signed=True)


def _name(data: bytes, start: int, end: int) -> str:
    """A NUL-terminated name; bytes that are not UTF-8 kept with surrogateescape."""
    raw = data[start:end]
    return os.fsdecode(raw.split(b"\0", 1)[0])


def _l2addr(data: bytes, start: int, end: int) -> str:
    return data[start:end].hex(":")


def _ip(family: int) -> Decoder:
    def decode(data: bytes, start: int, end: int) -> str:
        return socket.inet_ntop(family, data[start:end])

    return decode


def attrs(data: bytes, start: int, end: int, table: Table) -> list[list[Any]]:
    """``[name, value]`` of the attributes in ``table`` found in ``data[start:end]``."""
    out: list[list[Any]] = []
    while start + 4 <= end:
        length, kind = _NLA.unpack_from(data, start)
        if length < 4:
            break
        entry = table.get(kind & _NLA_TYPE)
        if entry is not None:
            name, decode = entry
            out.append([name, decode(data, start + 4, min(start + length, end))])
        start += (length + 3) & ~3
    return out


def _be16(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start : start + 2], "big")


#: IFLA_VXLAN_* the model reads (an overlay network's vxlan device)
_VXLAN: Table = {
    1: ("IFLA_VXLAN_ID", _u32),
    3: ("IFLA_VXLAN_LINK", _u32),
    4: ("IFLA_VXLAN_LOCAL", _ip(socket.AF_INET)),
    7: ("IFLA_VXLAN_LEARNING", _u8),
    11: ("IFLA_VXLAN_PROXY", _u8),
    13: ("IFLA_VXLAN_L2MISS", _u8),
    14: ("IFLA_VXLAN_L3MISS", _u8),
    15: ("IFLA_VXLAN_PORT", _be16),
    17: ("IFLA_VXLAN_LOCAL6", _ip(socket.AF_INET6)),
}
#: IFLA_INFO_DATA / IFLA_INFO_SLAVE_DATA by (slave) kind: what the model reads
_INFO_DATA: dict[str, Table] = {"bridge": {5: ("IFLA_BR_STP_STATE", _u32)}, "vxlan": _VXLAN}
_SLAVE_DATA: dict[str, Table] = {"bridge": {1: ("IFLA_BRPORT_STATE", _u8)}}
_INFO_KIND, _INFO_DATA_TYPE, _INFO_SLAVE_KIND, _INFO_SLAVE_DATA_TYPE = 1, 2, 4, 5


def _linkinfo(data: bytes, start: int, end: int) -> dict[str, Any]:
    """IFLA_LINKINFO: the kinds, and the kind-specific data the model reads."""
    spans: dict[int, tuple[int, int]] = {}
    while start + 4 <= end:
        length, kind = _NLA.unpack_from(data, start)
        if length < 4:
            break
        spans.setdefault(kind & _NLA_TYPE, (start + 4, min(start + length, end)))
        start += (length + 3) & ~3
    out: list[list[Any]] = []
    for kind_type, data_type, name, data_name, tables in (
        (_INFO_KIND, _INFO_DATA_TYPE, "IFLA_INFO_KIND", "IFLA_INFO_DATA", _INFO_DATA),
        (
            _INFO_SLAVE_KIND,
            _INFO_SLAVE_DATA_TYPE,
            "IFLA_INFO_SLAVE_KIND",
            "IFLA_INFO_SLAVE_DATA",
            _SLAVE_DATA,
        ),
    ):
        if kind_type not in spans:
            continue
        kind = _name(data, *spans[kind_type])
        out.append([name, kind])
        table = tables.get(kind)
        if table is not None and data_type in spans:
            out.append([data_name, {"attrs": attrs(data, *spans[data_type], table)}])
    return {"attrs": out}


LINK_ATTRS: Table = {
    1: ("IFLA_ADDRESS", _l2addr),
    3: ("IFLA_IFNAME", _name),
    4: ("IFLA_MTU", _u32),
    5: ("IFLA_LINK", _u32),
    10: ("IFLA_MASTER", _u32),
    16: ("IFLA_OPERSTATE", _u8),
    18: ("IFLA_LINKINFO", _linkinfo),
    37: ("IFLA_LINK_NETNSID", _s32),
}
ADDR_ATTRS: dict[int, Table] = {
    socket.AF_INET: {
        1: ("IFA_ADDRESS", _ip(socket.AF_INET)),
        2: ("IFA_LOCAL", _ip(socket.AF_INET)),
    },
    socket.AF_INET6: {
        1: ("IFA_ADDRESS", _ip(socket.AF_INET6)),
        2: ("IFA_LOCAL", _ip(socket.AF_INET6)),
    },
}


def _multipath(family: int) -> Decoder:
    """RTA_MULTIPATH: each next hop's flags, hops, ``oif`` and gateway."""
    table: Table = {5: ("RTA_GATEWAY", _ip(family))}

    def decode(data: bytes, start: int, end: int) -> list[dict[str, Any]]:
        hops: list[dict[str, Any]] = []
        while start + _RTNEXTHOP.size <= end:
            length, flags, count, oif = _RTNEXTHOP.unpack_from(data, start)
            if length < _RTNEXTHOP.size:
                break
            inner = attrs(data, start + _RTNEXTHOP.size, min(start + length, end), table)
            hops.append({"flags": flags, "hops": count, "oif": oif, "attrs": inner})
            start += (length + 3) & ~3
        return hops

    return decode


ROUTE_ATTRS: dict[int, Table] = {
    f: {
        1: ("RTA_DST", _ip(f)),
        4: ("RTA_OIF", _u32),
        5: ("RTA_GATEWAY", _ip(f)),
        6: ("RTA_PRIORITY", _u32),
        7: ("RTA_PREFSRC", _ip(f)),
        9: ("RTA_MULTIPATH", _multipath(f)),
        15: ("RTA_TABLE", _u32),
    }
    for f in (socket.AF_INET, socket.AF_INET6)
}
RULE_ATTRS: dict[int, Table] = {
    f: {
        1: ("FRA_DST", _ip(f)),
        2: ("FRA_SRC", _ip(f)),
        3: ("FRA_IIFNAME", _name),
        4: ("FRA_GOTO", _u32),
        6: ("FRA_PRIORITY", _u32),
        10: ("FRA_FWMARK", _u32),
        15: ("FRA_TABLE", _u32),
        16: ("FRA_FWMASK", _u32),
        17: ("FRA_OIFNAME", _name),
    }
    for f in (socket.AF_INET, socket.AF_INET6)
}


MessageDecoder = Callable[[bytes, int, int], dict[str, Any]]
_NO_ATTRS: Table = {}


def _decoder(
    layout: struct.Struct, fields: tuple[str, ...], tables: Mapping[int, Table] | None
) -> MessageDecoder:
    """A decoder of one message type: its fixed header ``layout`` (family first) as
    ``fields``, then the attributes of ``tables`` (by family; None: LINK_ATTRS)."""

    def decode(data: bytes, offset: int, length: int) -> dict[str, Any]:
        values = layout.unpack_from(data, offset + 16)
        msg: dict[str, Any] = dict(zip(fields, values, strict=True))
        table = LINK_ATTRS if tables is None else tables.get(values[0], _NO_ATTRS)
        msg["attrs"] = attrs(data, offset + 16 + layout.size, offset + length, table)
        return msg

    return decode


#: one RTM_NEWLINK message (at ``offset``, ``length`` bytes) in plain form
link_message = _decoder(_IFINFOMSG, ("family", "ifi_type", "index", "flags", "change"), None)
#: one RTM_NEWADDR message in plain form (addresses of AF_INET/AF_INET6 only)
addr_message = _decoder(_IFADDRMSG, ("family", "prefixlen", "flags", "scope", "index"), ADDR_ATTRS)
#: one RTM_NEWROUTE message in plain form (attributes of IPv4/IPv6 routes only)
route_message = _decoder(
    _RTMSG,
    ("family", "dst_len", "src_len", "tos", "table", "proto", "scope", "type", "flags"),
    ROUTE_ATTRS,
)
#: one RTM_NEWRULE message in plain form (attributes of IPv4/IPv6 rules only)
rule_message = _decoder(
    _FIB_RULE_HDR,
    ("family", "dst_len", "src_len", "tos", "table", "action", "flags"),
    RULE_ATTRS,
)


MESSAGES: dict[int, MessageDecoder] = {
    RTM_NEWLINK: link_message,
    RTM_NEWADDR: addr_message,
    RTM_NEWROUTE: route_message,
    RTM_NEWRULE: rule_message,
}


#: rtgenmsg of RTM_NEWNSID: family and padding, then NETNSA_NSID (s32)
_RTGENMSG_SIZE = 4
_NSID_ATTRS: Table = {1: ("NETNSA_NSID", _s32)}


def nsid_reply(data: bytes, offset: int, length: int) -> int | OSError | None:
    """The answer to one RTM_GETNSID: the NETNSA_NSID of an RTM_NEWNSID, the error of
    an NLMSG_ERROR (as OSError), None for anything else."""
    kind = _NLMSGHDR.unpack_from(data, offset)[1]
    if kind == NLMSG_ERROR:
        code = -int.from_bytes(data[offset + 16 : offset + 20], sys.byteorder, signed=True)
        return OSError(code, os.strerror(code)) if code else None
    if kind != RTM_NEWNSID:
        return None
    found = attrs(data, offset + 16 + _RTGENMSG_SIZE, offset + length, _NSID_ATTRS)
    return int(found[0][1]) if found else None


def parse_message(marshal: Any, data: bytes, offset: int, length: int, raw: bool = False) -> Any:
    """One message: RTM_NEW{LINK,ADDR,ROUTE,RULE} in plain form with a pyroute2-style
    ``header`` (``raw``: only its bytes, under ``raw``, for :func:`decode_raw`), the end
    of a dump as that header alone (its ``error`` set if the dump failed), anything
    else decoded by ``marshal`` (pyroute2's)."""
    _length, kind, flags, sequence, pid = _NLMSGHDR.unpack_from(data, offset)
    decode = MESSAGES.get(kind)
    error: OSError | None = None
    if decode is not None:
        msg: dict[str, Any] = (
            {"raw": data[offset : offset + length]} if raw else decode(data, offset, length)
        )
    elif kind == NLMSG_DONE and not flags & NLM_F_ACK_TLVS:
        # the end of a dump: its payload is the dump's result, 0 or a negative errno
        msg = {}
        code = -_s32(data, offset + 16, offset + length) if length >= 20 else 0
        if code > 0:
            error = OSError(code, os.strerror(code))
    else:
        return marshal.parse_one_message(kind, flags, sequence, data, offset, length)
    msg["header"] = {
        "length": length,
        "type": kind,
        "flags": flags,
        "sequence_number": sequence,
        "pid": pid,
        "error": error,
    }
    return msg


def parse_messages(marshal: Any, data: bytes, raw: bool = False) -> Iterator[Any]:
    """Every message of a received datagram, as :func:`parse_message` gives them."""
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length = _NLMSGHDR.unpack_from(data, offset)[0]
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        yield parse_message(marshal, data, offset, length, raw)
        offset += (length + 3) & ~3


def decode_raw(msg: Mapping[str, Any]) -> Any:
    """A message :func:`parse_message` gave as bytes (``raw``), decoded in plain form."""
    data = msg["raw"]
    decode = MESSAGES[_NLMSGHDR.unpack_from(data, 0)[1]]
    decoded = decode(data, 0, len(data))
    decoded["header"] = msg["header"]
    return decoded


def selective_parser(marshal: Any) -> Callable[[bytes, int, int], Any]:
    """A parser for ``NetlinkRequest(parser=...)``: see :func:`parse_message`."""

    def parse(data: bytes, offset: int, length: int) -> Any:
        return parse_message(marshal, data, offset, length)

    return parse
