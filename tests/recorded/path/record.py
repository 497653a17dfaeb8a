"""Record the lab for the path engine's unit tests: ``python tests/recorded/path/record.py NAME``
as root on the lab (read-only: it changes nothing).

Writes ``NAME.snapshot.json``: ``netexplorer snapshot --json``. When that
netexplorer does not read routes yet (no ``routes`` in the snapshot), the host's
routes and policy rules and each running container's routes are added from
``ip -j route show table all`` / ``ip -j rule`` (in the container's netns via
``nsenter``), in the model's field names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TABLES = {"local": 255, "main": 254, "default": 253}


def ip_json(*args: str, pid: int | None = None) -> list[dict[str, Any]]:
    """``ip -j ARGS`` (in the netns of ``pid``); [] if that process is gone."""
    cmd = ["ip", "-j", *args]
    if pid is not None:
        cmd = ["nsenter", "-t", str(pid), "-n", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 and pid is not None:
        return []
    done.check_returncode()
    out = done.stdout
    data: list[dict[str, Any]] = json.loads(out or "[]")
    return data


def _table(value: Any) -> int:
    if value is None:
        return 254
    return TABLES[str(value)] if str(value) in TABLES else int(value)


def routes(pid: int | None = None) -> list[dict[str, Any]]:
    out = []
    for fam, flag in (("inet", "-4"), ("inet6", "-6")):
        for r in ip_json(flag, "route", "show", "table", "all", pid=pid):
            out.append(
                {
                    "family": fam,
                    "dst": r["dst"],
                    "type": r.get("type", "unicast"),
                    "table": _table(r.get("table")),
                    "dev": r.get("dev"),
                    "gateway": r.get("gateway"),
                    "prefsrc": r.get("prefsrc"),
                    "scope": r.get("scope", "universe"),
                    "metric": r.get("metric"),
                    "protocol": r.get("protocol", ""),
                }
            )
    return out


def ip_rules(pid: int | None = None) -> list[dict[str, Any]]:
    out = []
    for fam, flag in (("inet", "-4"), ("inet6", "-6")):
        for r in ip_json(flag, "rule", pid=pid):
            out.append(
                {
                    "family": fam,
                    "priority": r["priority"],
                    "table": _table(r.get("table")),
                    "action": r.get("action", "lookup") if "table" not in r else "lookup",
                    "src": None
                    if r.get("src") in (None, "all")
                    else f"{r['src']}/{r.get('srclen', 32 if fam == 'inet' else 128)}",
                    "dst": None
                    if r.get("dst") in (None, "all")
                    else f"{r['dst']}/{r.get('dstlen', 32 if fam == 'inet' else 128)}",
                    "iif": r.get("iif"),
                    "oif": r.get("oif"),
                    "invert": "not" in r,
                }
            )
    return out


def interfaces(pid: int | None) -> list[dict[str, Any]]:
    out = []
    for link in ip_json("addr", pid=pid):
        out.append(
            {
                "ifindex": link["ifindex"],
                "name": link["ifname"],
                "kind": "",
                "operstate": link.get("operstate", "").lower(),
                "mac": link.get("address"),
                "mtu": link.get("mtu"),
                "addresses": [
                    {
                        "family": a["family"],
                        "address": a["local"],
                        "prefixlen": a["prefixlen"],
                        "scope": a.get("scope", "global"),
                    }
                    for a in link.get("addr_info", [])
                ],
                "link_ifindex": link.get("link_index"),
            }
        )
    return out


def interfaces_here() -> list[dict[str, Any]]:
    """:func:`interfaces` of the namespace this process runs in."""
    return interfaces(None)


def main(name: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "netexplorer", "snapshot", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout
    snap = json.loads(out)
    if not snap.get("routes"):
        snap["routes"] = routes()
        snap["ip_rules"] = ip_rules()
        for ct in snap["containers"]:
            if ct.get("pid") and ct["state"] == "running" and ct["network_mode"] != "host":
                ct["inside"] = {
                    "interfaces": interfaces(ct["pid"]),
                    "routes": routes(ct["pid"]),
                    "ip_rules": ip_rules(ct["pid"]),
                    "error": None,
                }
    (HERE / f"{name}.snapshot.json").write_text(json.dumps(snap, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lab-nft")
