"""Record the lab's two-node swarm: snapshots of both nodes and ground truth.

Run as root with the swarm up (``scripts/lab swarm up``, under the lab lock):
``python tests/recorded/swarm/record.py``. Writes

- ``node1.snapshot.json``, ``node2.snapshot.json``: ``netexplorer snapshot --json``
  on each node (node 2: inside netns nx-swarm2, with DOCKER_HOST and
  NETEXPLORER_DOCKER_NETNS_DIR naming its daemon), reduced to the lab's and the
  swarm's objects (scripts/record_demo.py's ``only_ours``);
- ``truth.json``: per node and overlay network, ``docker network inspect`` and,
  inside the overlay namespace, ``ip -d -j link``, ``ip -j addr``, ``bridge -j fdb
  show`` (tests/integration/swarm_truth.py), plus each overlay container's eth0;
- ``node1.namespaces.json``: the raw netlink dumps of node 1's Docker namespaces
  (plain form) that netexplorer parses.

``node1.namespaces.pyroute2.json`` is not written here any more: it is the same dump
as pyroute2 decoded it in full (an earlier recording of this swarm), kept for
tests/unit/test_netlink_select.py to hold netexplorer's own parser against.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for integration.swarm_truth
sys.path.insert(0, str(HERE.parents[2] / "scripts"))  # record_demo.only_ours

from integration import swarm_truth as st  # noqa: E402

#: what the swarm adds to the lab: its containers (sw1, sw2, the service's task, and
#: se1, se2 on the encrypted overlay nxsecure)
SWARM_PREFIXES = (st.C1, st.C2, "nxweb.", "se1", "se2")
#: host interfaces kept besides the containers' bridges and veths: the underlay,
#: the lab's "internet" and loopback
SWARM_INTERFACES = frozenset({"lo", "nx-sw0", "nx-sw1", "nx-inet0"})


def main() -> None:
    from record_demo import only_ours

    from netexplorer.collect.overlay_source import read_namespace_messages
    from netexplorer.snapshot_io import snapshot_from_dict, snapshot_to_json

    for node in (1, 2):
        # the machine is shared: only the lab's and the swarm's objects are kept
        snap = snapshot_from_dict(json.loads(st.snapshot_json(node)))
        # docker_gwbridge's ports: the containers' and ingress_sbox's legs
        legs = {i.name for i in snap.interfaces if i.master == "docker_gwbridge"}
        kept = only_ours(snap, SWARM_PREFIXES, SWARM_INTERFACES | legs)
        (HERE / f"node{node}.snapshot.json").write_text(snapshot_to_json(kept))
    truth = {
        "node1": st.node_truth(1),
        "node2": st.node_truth(2),
        "eth0": {st.C1: st.container_eth(1, st.C1), st.C2: st.container_eth(2, st.C2)},
    }
    (HERE / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    pids = [st.container_pid(1, st.C1)]
    raw = [m.plain() for m in read_namespace_messages(pids)]
    (HERE / "node1.namespaces.json").write_text(json.dumps(raw, indent=1) + "\n")


if __name__ == "__main__":
    main()
