"""Record live data from the lab for the unit tests of netexplorer.live and conntrack.

    scripts/lab up
    python tests/recorded/live/record.py conntrack   # after a fresh SNAT and DNAT flow
    python tests/recorded/live/record.py events N    # the next N docker events (JSON lines)

``conntrack`` writes conntrack.json: one nf_conntrack dump (all families) as plain
messages (``message_to_plain``). Make flows first, e.g. ``docker exec test1 ping -c1
203.0.113.1`` (SNAT to 198.51.100.1) and ``ip netns exec nx-inet busybox nc -w1
198.51.100.1 8080 </dev/null`` (DNAT to web). ``events`` writes docker-events.jsonl:
the decoded events the SDK yields with the filter the live watcher uses, while you
``docker run``/``rm -f`` a throwaway container in another shell.
"""

from __future__ import annotations

import json
import sys
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


if __name__ == "__main__":
    if sys.argv[1:2] == ["conntrack"]:
        record_conntrack()
    elif sys.argv[1:2] == ["events"]:
        record_events(int(sys.argv[2]) if len(sys.argv) > 2 else 12)
    else:
        sys.exit(__doc__)
