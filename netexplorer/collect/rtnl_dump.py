"""RTM_GETLINK / RTM_GETADDR dumps over a plain rtnetlink socket (standard library only).

pyroute2 builds a lazily decoding object per message and per attribute; at a few
hundred veths that cost more than everything else in a snapshot (profiled: about
0.5 ms per link). Here each dump is one ``socket(AF_NETLINK)`` request and the
replies are decoded with :mod:`struct` straight into the plain message form of
:func:`netexplorer.collect.netlink_source.message_to_plain` (``{"index": ...,
"attrs": [[name, value], ...]}``), which :func:`~.netlink_source.parse_netlink`
reads. Only the attributes the model uses are decoded; the others are skipped.

Read-only: only dump requests are sent.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from typing import Any

NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLM_F_DUMP_INTR = 0x10
NLA_TYPE_MASK = 0x3FFF
IFLA_EXT_MASK = 29
#: RTEXT_FILTER_SKIP_STATS: the kernel leaves the (unused) counters out
RTEXT_FILTER_SKIP_STATS = 1 << 3

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_S32 = struct.Struct("=i")
_RECV_BUFFER = 1 << 20


def _string(raw: bytes) -> str:
    return os.fsdecode(raw.split(b"\0", 1)[0])


def _u8(raw: bytes) -> int:
    return raw[0]


def _u32(raw: bytes) -> int:
    return int(_U32.unpack_from(raw)[0])


def _s32(raw: bytes) -> int:
    return int(_S32.unpack_from(raw)[0])


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


#: (attribute type -> (name, decoder)) per attribute space; nested spaces decode to
#: ``{"attrs": [...]}`` with their own table
_BR_DATA = {5: ("IFLA_BR_STP_STATE", _u32)}
_BRPORT_DATA = {1: ("IFLA_BRPORT_STATE", _u8)}
_LINKINFO: dict[int, tuple[str, Any]] = {
    1: ("IFLA_INFO_KIND", _string),
    2: ("IFLA_INFO_DATA", _BR_DATA),
    4: ("IFLA_INFO_SLAVE_KIND", _string),
    5: ("IFLA_INFO_SLAVE_DATA", _BRPORT_DATA),
}
_LINK: dict[int, tuple[str, Any]] = {
    1: ("IFLA_ADDRESS", _mac),
    3: ("IFLA_IFNAME", _string),
    4: ("IFLA_MTU", _u32),
    5: ("IFLA_LINK", _u32),
    10: ("IFLA_MASTER", _u32),
    16: ("IFLA_OPERSTATE", _u8),
    18: ("IFLA_LINKINFO", _LINKINFO),
    37: ("IFLA_LINK_NETNSID", _s32),
}


def _decode_attrs(data: bytes, start: int, end: int, table: dict[int, Any]) -> list[list[Any]]:
    attrs: list[list[Any]] = []
    pos = start
    while pos + 4 <= end:
        length, kind = _RTATTR.unpack_from(data, pos)
        if length < 4:
            break
        spec = table.get(kind & NLA_TYPE_MASK)
        if spec is not None:
            name, decoder = spec
            if isinstance(decoder, dict):
                value: Any = {"attrs": _decode_attrs(data, pos + 4, pos + length, decoder)}
            else:
                value = decoder(data[pos + 4 : pos + length])
            attrs.append([name, value])
        pos += (length + 3) & ~3
    return attrs


def _link(data: bytes, pos: int, end: int) -> dict[str, Any]:
    family, ifi_type, index, flags, _change = _IFINFOMSG.unpack_from(data, pos)
    attrs = _decode_attrs(data, pos + _IFINFOMSG.size, end, _LINK)
    return {"family": family, "ifi_type": ifi_type, "index": index, "flags": flags, "attrs": attrs}


def _addr(data: bytes, pos: int, end: int) -> dict[str, Any]:
    family, prefixlen, flags, scope, index = _IFADDRMSG.unpack_from(data, pos)
    attrs: list[list[Any]] = []
    at = pos + _IFADDRMSG.size
    while at + 4 <= end:
        length, kind = _RTATTR.unpack_from(data, at)
        if length < 4:
            break
        if kind in (1, 2) and family in (socket.AF_INET, socket.AF_INET6):
            name = "IFA_ADDRESS" if kind == 1 else "IFA_LOCAL"
            attrs.append([name, socket.inet_ntop(family, data[at + 4 : at + length])])
        at += (length + 3) & ~3
    return {
        "family": family,
        "prefixlen": prefixlen,
        "flags": flags,
        "scope": scope,
        "index": index,
        "attrs": attrs,
    }


def _request(kind: int, seq: int) -> bytes:
    if kind == RTM_GETLINK:
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        body += _RTATTR.pack(8, IFLA_EXT_MASK) + _U32.pack(RTEXT_FILTER_SKIP_STATS)
    else:
        body = _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
    return header + body


def dump(what: str, seq: int = 1) -> tuple[list[dict[str, Any]], bool]:
    """One dump: ``what`` is "link" or "addr". Returns (messages, interrupted).

    ``interrupted`` is True if the kernel flagged the dump NLM_F_DUMP_INTR (the
    table changed meanwhile; the caller may repeat it). Raises OSError
    (PermissionError included) as the socket calls do.
    """
    get, new, decode = (
        (RTM_GETLINK, RTM_NEWLINK, _link) if what == "link" else (RTM_GETADDR, RTM_NEWADDR, _addr)
    )
    messages: list[dict[str, Any]] = []
    interrupted = False
    with socket.socket(
        socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE
    ) as s:
        s.bind((0, 0))
        s.sendto(_request(get, seq), (0, 0))
        while True:
            data = s.recv(_RECV_BUFFER)
            if not data:
                return messages, interrupted
            pos = 0
            while pos + _NLMSGHDR.size <= len(data):
                length, kind, flags, msg_seq, _pid = _NLMSGHDR.unpack_from(data, pos)
                if length < _NLMSGHDR.size:
                    return messages, interrupted
                end = pos + length
                if msg_seq == seq:
                    if flags & NLM_F_DUMP_INTR:
                        interrupted = True
                    if kind == NLMSG_DONE:
                        return messages, interrupted
                    if kind == NLMSG_ERROR:
                        code = -_s32(data[pos + 16 : pos + 20])
                        if code:
                            raise OSError(code, os.strerror(code) or errno.errorcode.get(code, ""))
                        return messages, interrupted
                    if kind == new:
                        messages.append(decode(data, pos + _NLMSGHDR.size, end))
                pos += (length + 3) & ~3
