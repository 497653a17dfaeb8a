"""Record one real rtnetlink dump of this host (and `ip`/`bridge` JSON of the same moment).

Run as root from the repository root: ``python tests/recorded/netlink/record.py``.
Writes, next to this file: links.json and addrs.json (pyroute2 messages as plain data,
see netexplorer.collect.netlink_source.message_to_plain) and the ground truth
ip_link.json (``ip -j -d link show``), ip_addr.json (``ip -j addr``) and
bridge_link.json (``bridge -j link``). Retries until links did not change meanwhile.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pyroute2 import IPRoute

from netexplorer.collect.netlink_source import message_to_plain

HERE = Path(__file__).resolve().parent


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True).stdout.decode(
        "utf-8", "surrogateescape"
    )


def _shape(ip_link_json: str) -> list[tuple[object, ...]]:
    """What must not change during a recording (timers and counters may)."""
    keys = ("ifindex", "ifname", "operstate", "flags", "master", "mtu", "address")
    return [tuple(str(link.get(k)) for k in keys) for link in json.loads(ip_link_json)]


def main() -> None:
    for _ in range(5):
        before = _run("ip", "-j", "-d", "link", "show")
        with IPRoute() as ipr:
            links = [message_to_plain(m) for m in ipr.link("dump")]
            addrs = [message_to_plain(m) for m in ipr.addr("dump")]
        ip_addr = _run("ip", "-j", "addr")
        bridge = _run("bridge", "-j", "link")
        after = _run("ip", "-j", "-d", "link", "show")
        if _shape(before) == _shape(after):
            break
    else:
        raise SystemExit("links kept changing; try again")
    for name, value in (("links", links), ("addrs", addrs)):
        (HERE / f"{name}.json").write_text(json.dumps(value, indent=1, ensure_ascii=True) + "\n")
    for name, text in (("ip_link", after), ("ip_addr", ip_addr), ("bridge_link", bridge)):
        data = json.loads(text)
        (HERE / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
