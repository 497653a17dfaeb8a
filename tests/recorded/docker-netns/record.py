"""Record Docker's own namespaces on the lab's one-node swarm, with ground truth.

Run as root under the lab lock, with the swarm up::

    flock /run/nx-lab.lock sh -c 'scripts/lab swarm up --one-node &&
        python tests/recorded/docker-netns/record.py; scripts/lab swarm down'

(this project's sandbox kernel has no IPVS, so ingress_sbox has no IPVS table
here; the recording is of its links, addresses, routes, rules and forwarding).
Writes

- ``namespaces.json``: the raw netlink dumps of every namespace in
  /var/run/docker/netns that netexplorer reads (``1-<id>``, ingress_sbox,
  ``lb_<id>``), in plain form, and the forwarding settings read inside each;
- ``truth.json``: per namespace, what ``nsenter --net=<path> ip -j`` prints
  (addresses, routes of every table, rules, per family; the text of ``ip -4 route
  show table all`` and ``ip rule``) and ``/proc/sys/net/ipv4/ip_forward`` and
  ``/proc/sys/net/ipv6/conf/all/forwarding`` read there by ``cat``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for integration.scratch_netns

from integration.scratch_netns import ip_truth  # noqa: E402

SETTINGS = {
    "net.ipv4.ip_forward": "/proc/sys/net/ipv4/ip_forward",
    "net.ipv6.conf.all.forwarding": "/proc/sys/net/ipv6/conf/all/forwarding",
}


def main() -> None:
    from netexplorer.collect.overlay_source import list_namespaces, read_namespace_messages

    raw = [m.plain() for m in read_namespace_messages()]
    truth = {}
    for name, path in list_namespaces():
        doc = ip_truth(path=path)
        doc["sysctls"] = {
            key: subprocess.run(
                ["nsenter", f"--net={path}", "cat", f],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            for key, f in SETTINGS.items()
        }
        truth[name] = doc
    assert {r["name"] for r in raw} == set(truth), "the namespaces changed while recorded"
    (HERE / "namespaces.json").write_text(json.dumps(raw, indent=1) + "\n")
    (HERE / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")


if __name__ == "__main__":
    main()
