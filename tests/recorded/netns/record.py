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
sys.path.insert(0, str(HERE.parents[1]))  # tests/: the scratch netns helpers

from integration.scratch_netns import ROUTING_SETUP, ip_truth, private_netns  # noqa: E402


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


def record(name: str, pid: int | None) -> None:
    """The dumps of the namespace of ``pid`` (the host's when None) between two equal
    readings of ``ip`` there."""
    prefix = ["nsenter", "-t", str(pid), "-n"] if pid else []
    for _ in range(5):
        before = ip_truth(pid)
        dumps = json.loads(run(*prefix, sys.executable, __file__, "--dump"))
        after = ip_truth(pid)
        if before == after:
            break
    else:
        raise SystemExit(f"{name}: the namespace kept changing; try again")
    (HERE / f"{name}.dumps.json").write_text(json.dumps(dumps, indent=1) + "\n")
    (HERE / f"{name}.truth.json").write_text(json.dumps(after, indent=1) + "\n")


def main() -> None:
    for container in ("test1", "web"):
        pid = run("docker", "container", "inspect", "-f", "{{.State.Pid}}", container)
        record(container, int(pid))
    record("host", None)
    with private_netns(ROUTING_SETUP) as pid:
        record("scratch", pid)


if __name__ == "__main__":
    if sys.argv[1:] == ["--dump"]:
        dump_here()
    else:
        main()
