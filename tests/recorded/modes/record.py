"""Record snapshots of every network mode, healthy and broken, from the live lab.

    sudo /opt/netexplorer-ci-venv/bin/python tests/recorded/modes/record.py

Needs the lab (scripts/lab up). Makes throwaway ``nxt-rec-*`` objects: a bridge
network with enable_icc=false and a custom bridge name, an --internal network,
an IPv6 network, a macvlan network on a veth pair, and containers on them (one
on three networks publishing a port, one ``container:`` sharing its namespace,
one host, one none, one internal, one macvlan). Writes:

* ``healthy.snapshot.json`` - as collected;
* ``broken.snapshot.json``  - collected with the published port's DNAT rule
  deleted, the macvlan parent down and net.ipv4.ip_forward read as 0 (flipped
  only while /proc/sys is read);

then removes everything. tests/unit/test_doctor.py and tests/ui use them.
:func:`modes` (the objects, made and removed) is also what scripts/record-demo
records the shipped demo with.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/: integration.groundtruth

from integration import groundtruth as gt  # noqa: E402

from netexplorer.collect.snapshot import collect_snapshot  # noqa: E402
from netexplorer.collect.sysctl_source import SysctlData, collect_sysctls, sysctl_path  # noqa: E402
from netexplorer.model import Snapshot  # noqa: E402
from netexplorer.snapshot_io import snapshot_to_json  # noqa: E402

TAG = "nxt-rec"
PARENT = f"{TAG}-p0"
BRIDGE = f"{TAG}-ic"
NETS = {
    "icc": [
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "-o",
        f"com.docker.network.bridge.name={BRIDGE}",
    ],
    "int": ["--internal"],
    "v6": ["--ipv6", "--subnet", "fd00:6e78:ec::/64"],
    "mv": ["-d", "macvlan", "-o", f"parent={PARENT}", "--subnet", "10.99.78.0/24"],
}


def ours(snap: Snapshot) -> Snapshot:
    """Only the lab's and this script's containers and networks (the recording host
    is shared: other people's throwaways would make the file big and arbitrary).
    Interfaces and rules are kept whole; correlation runs again on loading."""
    snap.containers = [
        c for c in snap.containers if c.name in gt.LAB_CONTAINERS or c.name.startswith(TAG)
    ]
    used = {e.network_id for c in snap.containers for e in c.endpoints}
    snap.networks = [n for n in snap.networks if n.id in used or n.name in ("host", "none")]
    snap.warnings = [w for w in snap.warnings if "nxb-" not in w]
    return snap


def ip_forward_zero() -> SysctlData:
    path = sysctl_path("net.ipv4.ip_forward")
    old = path.read_text().strip()
    path.write_text("0")
    try:
        return collect_sysctls()
    finally:
        path.write_text(old)


@contextmanager
def modes() -> Iterator[dict[str, str]]:
    """Every network mode on the lab, removed again on leaving (also on failure):
    role -> container name."""
    cts = {r: f"{TAG}-{r}" for r in ("multi", "shared", "host", "none", "int1", "mv1")}
    try:
        gt.run("ip", "link", "add", PARENT, "type", "veth", "peer", "name", f"{TAG}-p1")
        gt.run("ip", "link", "set", PARENT, "up")
        for net, args in NETS.items():
            gt.run(
                "docker", "network", "create", "--label", gt.THROWAWAY_LABEL, *args, f"{TAG}-{net}"
            )
        gt.create_container(
            cts["multi"], (f"{TAG}-icc", f"{TAG}-v6", "bridge"), ["-p", "127.0.0.1:28080:80"]
        )
        gt.create_container(cts["shared"], (f"container:{cts['multi']}",))
        gt.create_container(cts["host"], ("host",))
        gt.create_container(cts["none"], ("none",))
        gt.create_container(cts["int1"], (f"{TAG}-int",))
        gt.create_container(cts["mv1"], (f"{TAG}-mv",))
        yield cts
    finally:
        for name in cts.values():
            gt.remove_container(name)
        for net in NETS:
            gt.run("docker", "network", "rm", f"{TAG}-{net}", check=False)
        gt.run("ip", "link", "del", PARENT, check=False)


def main() -> None:
    with modes() as cts:
        (HERE / "healthy.snapshot.json").write_text(snapshot_to_json(ours(collect_snapshot())))
        mode = gt.active_iptables_mode()
        ip = gt.container_ips(cts["multi"])[f"{TAG}-icc"]
        nat = gt.iptables_save(mode, "nat").splitlines()
        dnat = next(line for line in nat if "--dport 28080 " in line).split()[1:]
        gt.run(f"iptables-{mode}", "-t", "nat", "-D", *dnat)
        gt.run("ip", "link", "set", PARENT, "down")
        try:
            snap = collect_snapshot(sysctl=ip_forward_zero)
        finally:
            gt.run(f"iptables-{mode}", "-t", "nat", "-A", *dnat)
            gt.run("ip", "link", "set", PARENT, "up")
        (HERE / "broken.snapshot.json").write_text(snapshot_to_json(ours(snap)))
        print(f"recorded; the DNAT deleted was to {ip} or a sibling endpoint")


if __name__ == "__main__":
    main()
