"""Record what an encrypted overlay leaves on a host, for tests/unit/test_ipsec.py.

Run as root under the lab lock. Two parts:

- ``probe.policy.txt``: ``ip xfrm policy`` of a throwaway network namespace
  (``nx-esp-probe``, deleted again) holding a policy of the shape Docker programs
  for an encrypted overlay (UDP 4789 with mark 0xd0c4e3 through ESP to the peer);
  ``probe.state-error.txt``: what the kernel answers ``ip xfrm state add ... proto
  esp ... aead rfc4106(gcm(aes))`` with (the key given there is a fixed test
  pattern in that namespace, written nowhere). On a kernel without esp4 the state
  cannot exist.
- with the lab's swarm up (``scripts/lab swarm up``: nxoverlay plain, nxsecure
  ``--opt encrypted``): ``node1.snapshot.json`` (``netexplorer snapshot --json`` on
  node 1, reduced to the lab's and the swarm's objects) and ``truth.json``:
  ``docker network inspect`` of both overlays, the host's ``iptables-save`` lines
  with a ``u32`` match (mangle and filter), the host's ``ip xfrm`` states PARSED
  (never the raw text: it would hold keys) and policies, and whether se1 pings
  se2 across nxsecure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for integration.*
sys.path.insert(0, str(HERE.parents[2] / "scripts"))  # record_demo.only_ours

from integration import groundtruth as gt  # noqa: E402
from integration import swarm_truth as st  # noqa: E402

PROBE = "nx-esp-probe"
ENCRYPTED = "nxsecure"
E1, E2, E2_IP = "se1", "se2", "10.201.0.12"


def sh(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def probe() -> None:
    sh("ip", "netns", "add", PROBE)
    try:
        ip = ("ip", "-n", PROBE, "xfrm")
        tmpl = ("tmpl", "src", st.NODE1_ADDR, "dst", st.NODE2_ADDR, "proto", "esp")
        sel = ("src", "0.0.0.0/0", "dst", f"{st.NODE2_ADDR}/32", "proto", "udp", "dport", "4789")
        sh(*ip, "policy", "add", *sel, "dir", "out", "mark", "0xd0c4e3", *tmpl,
           "spi", "0x1000", "reqid", "1", "mode", "transport")  # fmt: skip
        added = sh(*ip, "state", "add", "src", st.NODE1_ADDR, "dst", st.NODE2_ADDR,
                   "proto", "esp", "spi", "0x1000", "reqid", "1", "mode", "transport",
                   "aead", "rfc4106(gcm(aes))", "0x" + "00" * 20, "64")  # fmt: skip
        (HERE / "probe.state-error.txt").write_text(added.stderr)
        (HERE / "probe.policy.txt").write_text(sh(*ip, "policy").stdout)
        states = sh(*ip, "state").stdout
        assert not states.strip(), "the kernel holds ESP states: record by hand, without keys"
    finally:
        sh("ip", "netns", "del", PROBE)


def swarm() -> None:
    from record_demo import only_ours

    from netexplorer.ipsec import parse_xfrm_states
    from netexplorer.model import as_plain
    from netexplorer.snapshot_io import snapshot_from_dict, snapshot_to_json

    snap = snapshot_from_dict(json.loads(st.snapshot_json(1)))
    legs = {i.name for i in snap.interfaces if i.master == "docker_gwbridge"}
    kept = only_ours(snap, (st.C1, E1, "nxweb."), frozenset({"lo", "nx-sw0", "nx-inet0"}) | legs)
    kept.xfrm_states, kept.xfrm_policies, kept.xfrm_read = (
        snap.xfrm_states, snap.xfrm_policies, snap.xfrm_read,
    )  # fmt: skip
    (HERE / "node1.snapshot.json").write_text(snapshot_to_json(kept))
    backend = gt.active_iptables_mode()
    u32 = {
        table: [line for line in gt.iptables_save(backend, table).splitlines() if "u32" in line]
        for table in ("mangle", "filter")
    }
    ping = sh("docker", "exec", E1, "ping", "-c2", "-W2", E2_IP).returncode == 0
    truth = {
        "inspect": {
            name: json.loads(st.docker(1, "network", "inspect", name))[0]
            for name in (st.OVERLAY, ENCRYPTED)
        },
        "iptables_backend": backend,
        "u32_rules": u32,
        "xfrm_states": as_plain(parse_xfrm_states(sh("ip", "xfrm", "state").stdout)),
        "xfrm_policy": sh("ip", "xfrm", "policy").stdout,
        "ping_se1_se2": ping,
    }
    (HERE / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")


if __name__ == "__main__":
    probe()
    if "--probe-only" not in sys.argv:
        swarm()
