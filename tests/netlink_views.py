"""The netlink model seen as `ip -j link`, `ip -j addr` and `bridge -j link` see it.

Shared by the unit test on the recorded dump and the integration test on the live
host, so both compare netexplorer with the same independent reading of `ip`.
"""

from __future__ import annotations

from typing import Any

from netexplorer.collect.netlink_source import NetlinkData


def truth_from_ip(ip_link: list[Any], ip_addr: list[Any], bridge_link: list[Any]) -> dict[int, Any]:
    """Per ifindex, what `ip`/`bridge` say, in the model's terms."""
    index_of = {link["ifname"]: link["ifindex"] for link in ip_link}
    addrs = {
        a["ifindex"]: [
            (i["family"], i["local"], i["prefixlen"], i["scope"]) for i in a.get("addr_info", [])
        ]
        for a in ip_addr
    }
    states = {p["ifindex"]: p["state"] for p in bridge_link}
    out: dict[int, Any] = {}
    for link in ip_link:
        info = link.get("linkinfo") or {}
        if "link_index" in link:
            peer = link["link_index"]
        elif "link" in link:
            peer = index_of.get(link["link"], 0) if link["link"] is not None else 0
        else:
            peer = None
        out[link["ifindex"]] = {
            "name": link["ifname"],
            "kind": info.get("info_kind", ""),
            "operstate": link["operstate"],
            "mtu": link["mtu"],
            "mac": link.get("address"),
            "flags": link["flags"],
            "master": link.get("master"),
            "link_ifindex": peer,
            "link_netnsid": link.get("link_netnsid"),
            "addresses": addrs.get(link["ifindex"], []),
            "port_state": states.get(link["ifindex"]),
            "stp": bool((info.get("info_data") or {}).get("stp_state"))
            if info.get("info_kind") == "bridge"
            else None,
        }
    return out


def model_view(data: NetlinkData, with_mac: set[int]) -> dict[int, Any]:
    """The same view of parse_netlink's result (mac only where `ip` prints one)."""
    states = {p.ifindex: p.state for b in data.bridges for p in b.ports}
    stp = {b.ifindex: b.stp for b in data.bridges}
    return {
        i.ifindex: {
            "name": i.name,
            "kind": i.kind,
            "operstate": i.operstate,
            "mtu": i.mtu,
            "mac": i.mac if i.ifindex in with_mac else None,
            "flags": i.flags,
            "master": i.master,
            "link_ifindex": i.link_ifindex,
            "link_netnsid": i.link_netnsid,
            "addresses": [(a.family, a.address, a.prefixlen, a.scope) for a in i.addresses],
            "port_state": states.get(i.ifindex),
            "stp": stp.get(i.ifindex),
        }
        for i in data.interfaces
    }


# ------------------------------------------------------------------ recorded dump
