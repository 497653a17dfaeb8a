"""Record real rtnetlink dumps of network namespaces, with `ip -j` of the same moment.

Run as root from the repository root, with the lab up and holding the lab lock:
``flock /run/nx-lab.lock python tests/recorded/netns/record.py``.

For the lab containers test1 and web, for the host, and for a scratch namespace
holding routes and rules of every kind (a private one, ``unshare -n``, made here
and gone with its process at the end: nothing on the host changes),
writes ``NAME.dumps.json``: the link, address, route and rule dumps as the wire
bytes ``NamespaceReader`` received (hex, one string per buffer), and ``NAME.truth.json``:
``ip -j addr``, ``ip -4/-6 -j route show table all`` and ``ip -4/-6 -j rule`` inside
it, and the text of ``ip -4 route show table all`` and ``ip rule``. The dumps are
taken by this script re-run inside the namespace (``nsenter -t PID -n`` / ``ip netns
exec``) with ``--dump``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRATCH_SETUP = [
    "link set lo up",
    "link add d0 type veth peer name d1",
    "link set d0 up",
    "link set d1 up",
    "addr add 10.9.0.1/24 dev d0",
    "-6 addr add fd00:9::1/64 dev d0 nodad",
    "route add default via 10.9.0.254 dev d0 metric 50",
    "route add blackhole 10.66.0.0/16",
    "route add prohibit 10.67.0.0/16 table 300",
    "route add 10.77.0.0/16 via 10.9.0.2 table 100 proto static",
    "route add unreachable 10.88.0.0/16 table 200",
    "-6 route add default via fd00:9::fe dev d0",
    "route add 10.99.0.0/16 nexthop via 10.9.0.3 dev d0 nexthop via 10.9.0.4 dev d0",
    "rule add priority 100 from 10.9.0.0/24 to 10.77.0.0/16 fwmark 0x5/0xff iif lo table 100",
    "rule add priority 101 not to 10.88.0.0/16 oif d0 table 200",
    "rule add priority 102 blackhole from 10.1.0.0/16",
    "rule add priority 103 goto 32766",
    "-6 rule add priority 200 from fd00:9::/64 table 100",
]


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def dump_here() -> None:
    """Print this namespace's four dumps, as the wire bytes received, as JSON (run inside it)."""
    from netexplorer.collect.netns_source import NamespaceReader, netlink_socket

    reader = NamespaceReader()
    doc: dict[str, list[str]] = {}
    with netlink_socket() as sock:
        for name, kind in (("links", 18), ("addrs", 22), ("routes", 26), ("rules", 34)):
            reader.received = []
            reader.dump(sock, kind, [], "here")
            doc[name] = [data.hex() for data in reader.received]
    print(json.dumps(doc))


def truth(prefix: list[str]) -> dict[str, object]:
    def ip(*args: str) -> object:
        return json.loads(run(*prefix, "ip", "-j", *args) or "[]")

    def text(*args: str) -> list[str]:
        return [" ".join(line.split()) for line in run(*prefix, "ip", *args).splitlines()]

    return {
        "ip4_route_text": text("-4", "route", "show", "table", "all"),
        "ip_rule_text": text("-4", "rule") + text("-6", "rule"),
        "ip_addr": ip("addr"),
        "ip4_route": ip("-4", "route", "show", "table", "all"),
        "ip6_route": ip("-6", "route", "show", "table", "all"),
        "ip4_rule": ip("-4", "rule"),
        "ip6_rule": ip("-6", "rule"),
    }


def record(name: str, prefix: list[str]) -> None:
    for _ in range(5):
        before = truth(prefix)
        dumps = json.loads(run(*prefix, sys.executable, __file__, "--dump"))
        after = truth(prefix)
        if before == after:
            break
    else:
        raise SystemExit(f"{name}: the namespace kept changing; try again")
    (HERE / f"{name}.dumps.json").write_text(json.dumps(dumps, indent=1) + "\n")
    (HERE / f"{name}.truth.json").write_text(json.dumps(after, indent=1) + "\n")


def main() -> None:
    for container in ("test1", "web"):
        pid = run("docker", "inspect", "-f", "{{.State.Pid}}", container).strip()
        record(container, ["nsenter", "-t", pid, "-n"])
    record("host", [])
    scratch = subprocess.Popen(["unshare", "--net", "sleep", "600"])
    try:
        inside = ["nsenter", "-t", str(scratch.pid), "-n"]
        for _ in range(100):  # until unshare has made the namespace
            if run(*inside, "readlink", "/proc/self/ns/net") != run(
                "readlink", "/proc/self/ns/net"
            ):
                break
        for command in SCRATCH_SETUP:
            run(*inside, "ip", *command.split())
        record("scratch", inside)
    finally:
        scratch.kill()
        scratch.wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["--dump"]:
        dump_here()
    else:
        main()
