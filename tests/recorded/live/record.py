"""Record live data from the lab for the unit tests of netexplorer.live and conntrack.

    scripts/lab up
    python tests/recorded/live/record.py conntrack   # after a fresh SNAT and DNAT flow
    python tests/recorded/live/record.py events N    # the next N docker events (JSON lines)
    python tests/recorded/live/record.py burst       # docker run, connect, rm -f: both watchers

``conntrack`` writes conntrack.json: one nf_conntrack dump (all families) as plain
messages (``message_to_plain``). Make flows first, e.g. ``docker exec test1 ping -c1
203.0.113.1`` (SNAT to 198.51.100.1) and ``ip netns exec nx-inet busybox nc -w1
198.51.100.1 8080 </dev/null`` (DNAT to web). ``events`` writes docker-events.jsonl:
the decoded events the SDK yields with the filter the live watcher uses, while you
``docker run``/``rm -f`` a throwaway container in another shell. ``burst`` writes
burst.jsonl: what both live watchers receive (Docker's decoded events, and the
kernel's rtnetlink datagrams in hex, each with its arrival time in ns) while it
runs a throwaway busybox container ``nxt-rec``, connects it to ``nxlab`` and
removes it with ``docker rm -f`` (as root, under the lab lock).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))


def record_conntrack() -> None:
    from pyroute2 import NFCTSocket

    from netexplorer.collect.netlink_source import message_to_plain

    sock = NFCTSocket(nfgen_family=0)
    try:
        msgs = [message_to_plain(m) for m in sock.dump()]
    finally:
        sock.close()
    (HERE / "conntrack.json").write_text(json.dumps(msgs, indent=1) + "\n")
    print(f"{len(msgs)} conntrack entries -> {HERE / 'conntrack.json'}")


def record_events(count: int) -> None:
    import docker

    from netexplorer.live.docker_events import EVENT_FILTERS

    api = docker.from_env().api
    out = (HERE / "docker-events.jsonl").open("w")
    stream = api.events(decode=True, filters=EVENT_FILTERS)
    for n, event in enumerate(stream, 1):
        out.write(json.dumps(event, sort_keys=True) + "\n")
        out.flush()
        if n >= count:
            break
    stream.close()


def record_burst() -> None:
    import docker

    from netexplorer.live.docker_events import EVENT_FILTERS
    from netexplorer.live.netlink_events import GROUPS, NETLINK_ROUTE

    lines: list[str] = []
    lock = threading.Lock()

    def keep(doc: dict[str, object]) -> None:
        with lock:
            lines.append(json.dumps(doc, sort_keys=True))

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    sock.bind((0, GROUPS))
    sock.settimeout(0.2)
    stop = threading.Event()

    def kernel() -> None:
        while not stop.is_set():
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                continue
            keep({"at_ns": time.time_ns(), "netlink": data.hex()})

    api = docker.from_env().api
    stream = api.events(decode=True, filters=EVENT_FILTERS)

    def daemon() -> None:
        for event in stream:
            keep({"at_ns": time.time_ns(), "docker": event})

    threads = [threading.Thread(target=f, daemon=True) for f in (kernel, daemon)]
    for t in threads:
        t.start()
    image = "busybox:latest"
    try:
        for argv in (
            ["run", "-d", "--pull", "never", "--label", "netexplorer.test=throwaway",
             "--name", "nxt-rec", image, "sleep", "60"],
            ["network", "connect", "nxlab", "nxt-rec"],
            ["rm", "-f", "nxt-rec"],
        ):  # fmt: skip
            subprocess.run(["docker", *argv], check=True, capture_output=True)
            time.sleep(1.0)
    finally:
        subprocess.run(["docker", "rm", "-f", "nxt-rec"], capture_output=True, check=False)
        stop.set()
        stream.close()
        for t in threads:
            t.join(2)
        sock.close()
    with lock:
        (HERE / "burst.jsonl").write_text("".join(f"{line}\n" for line in lines))
    print(f"{len(lines)} events and datagrams -> {HERE / 'burst.jsonl'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["conntrack"]:
        record_conntrack()
    elif sys.argv[1:2] == ["events"]:
        record_events(int(sys.argv[2]) if len(sys.argv) > 2 else 12)
    elif sys.argv[1:2] == ["burst"]:
        record_burst()
    else:
        sys.exit(__doc__)
