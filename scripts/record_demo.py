"""Record the shipped demo (netexplorer/demo/lab-snapshot.json) from the live lab.

    sudo flock /run/nx-lab.lock scripts/record-demo [--check-only]

Re-runnable: needs the lab (``scripts/lab up``) and root, changes nothing it does
not undo. It builds every mode the product knows on top of the lab's default and
user bridges (test1, test2, web multi-homed with a published port, db) with
tests/recorded/modes/record.py's :func:`modes`: a ``container:`` sidecar, host,
none, an --internal network, an icc=false bridge with its own name, an IPv6
network (the lab's dockerd runs with --ip6tables, so Docker writes NAT66), a
macvlan network on a veth parent. Then, with the route to the lab's "internet"
checked first, ``docker exec test1 ping 203.0.113.1`` runs (a SNAT flow) and the
host fetches web's published port on its own address 198.51.100.1 (a DNAT flow);
meanwhile the live feed reads the host twice, so the rule counters that moved
have their deltas. Only the lab's and this script's containers, networks,
bridges, veths and rules are kept (the machine is shared). Before writing, the
read is checked for every mode (a missing one is an error, and nothing is
written); then everything made is removed, also on failure.

After recording: ``python -m pytest tests/ui --snapshot-update`` (review the
diffs) and ``python scripts/screenshots.py``. tests/unit/test_demo.py fails when
the demo lacks a field of the current model.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # integration.groundtruth
sys.path.insert(0, str(ROOT / "tests" / "recorded" / "modes"))  # record.modes

import record  # noqa: E402
from integration import groundtruth as gt  # noqa: E402

from netexplorer.correlate import correlate, dnat_address, parse_network  # noqa: E402
from netexplorer.live.feed import LiveFeed  # noqa: E402
from netexplorer.model import Rule, Snapshot  # noqa: E402
from netexplorer.snapshot_io import snapshot_to_json  # noqa: E402

DEMO = ROOT / "netexplorer" / "demo" / "lab-snapshot.json"
KEEP_INTERFACES = {"lo", gt.INET_HOST_IF, record.PARENT, f"{record.TAG}-p1"}


def check_route() -> None:
    """The traffic rule: packets to 203.0.113.1 only while its /32 leads into nx-inet."""
    route = gt.route_get(gt.INET_ADDR)
    if route.get("dev") != gt.INET_HOST_IF:
        raise SystemExit(f"refusing to send: {gt.INET_ADDR} is routed {route}, not via nx-inet0")


def default_interface() -> str:
    routes = json.loads(gt.run("ip", "-j", "route", "show", "default") or "[]")
    return str(routes[0].get("dev", "")) if routes else ""


def only_ours(
    snap: Snapshot,
    prefixes: tuple[str, ...] = (record.TAG,),
    interfaces: frozenset[str] = frozenset(KEEP_INTERFACES),
) -> Snapshot:
    """The read reduced to the lab's objects and those of the containers named with
    one of ``prefixes`` (the machine is shared: other people's containers, networks,
    veths and rules would make a recording big and arbitrary), keeping besides
    their bridges and veths the host ``interfaces``. Done on the read before
    anything is derived from it."""
    snap.containers = [
        c for c in snap.containers if c.name in gt.LAB_CONTAINERS or c.name.startswith(prefixes)
    ]
    used = {e.network_id for c in snap.containers for e in c.endpoints}
    # overlay networks stay (a node has ingress without a container on it)
    snap.networks = [
        n
        for n in snap.networks
        if n.id in used or n.name in ("host", "none") or n.driver == "overlay"
    ]
    bridges = {n.bridge for n in snap.networks if n.bridge}
    corr = correlate(snap)
    veths = {corr.wiring(e).host_veth for c in snap.containers for e in c.endpoints}
    keep = interfaces | bridges | {v for v in veths if v} | {default_interface()}
    others = {i.name for i in snap.interfaces} - keep
    snap.interfaces = [i for i in snap.interfaces if i.name in keep]
    snap.bridges = [b for b in snap.bridges if b.name in bridges]
    addresses = {a for c in snap.containers for e in c.endpoints for a in (e.ipv4, e.ipv6) if a}
    subnets = [ipaddress.ip_network(s, strict=False) for n in snap.networks for s in n.subnets]

    def someone_elses(rule: Rule) -> bool:
        """Names an interface not kept, or one address in a Docker subnet that is
        not one of the kept containers' (another container's port, DNAT ...)."""
        if any(i in others for i in (rule.in_interface, rule.out_interface, rule.chain_interface)):
            return True
        hosts = [rule.source, rule.destination]
        if rule.target == "DNAT":
            hosts.append(str(dnat_address(rule.target_options.get("--to-destination", ""))))
        for text in hosts:
            net = parse_network(text)
            if net is None or net.num_addresses != 1:
                continue
            if str(net.network_address) not in addresses and any(
                net.version == s.version and net.subnet_of(s)  # type: ignore[arg-type]
                for s in subnets
            ):
                return True
        return False

    snap.rules = [r for r in snap.rules if not someone_elses(r)]
    snap.routes = [r for r in snap.routes if r.dev is None or r.dev not in others]
    snap.conntrack = [
        f for f in snap.conntrack if f.orig_src in addresses or f.reply_src in addresses
    ]
    snap.warnings = [w for w in snap.warnings if not any(o in w for o in others)]
    return snap


def missing_modes(snap: Snapshot) -> list[str]:
    """What the demo must show and this read does not."""
    corr = correlate(snap)
    cts = {c.name: c for c in snap.containers}
    want = {
        "default bridge (test1 on docker0)": any(
            corr.wiring(e).bridge == "docker0" for e in cts["test1"].endpoints
        )
        if "test1" in cts
        else False,
        "user bridge (nxlab)": any(n.name == gt.LAB_NETWORK for n in snap.networks),
        "multi-homed (web)": len(cts["web"].endpoints) >= 2 if "web" in cts else False,
        "published port": any(c.published_ports for c in snap.containers),
        "container: sidecar": any(c.netns_owner for c in snap.containers),
        "host": any(c.network_mode == "host" for c in snap.containers),
        "none": any(c.network_mode == "none" for c in snap.containers),
        "macvlan": any(n.driver == "macvlan" for n in snap.networks),
        "IPv6 NAT66": any(
            r.family == "ipv6" and r.target == "MASQUERADE" and corr.rule_containers.get(r.id)
            for r in snap.rules
        ),
        "conntrack SNAT flow": any(f.snat for f in snap.conntrack),
        "conntrack DNAT flow": any(f.dnat for f in snap.conntrack),
        "counters that moved": any(r.delta_packets for r in snap.rules),
    }
    return [what for what, ok in want.items() if not ok]


def record_demo(check_only: bool) -> None:
    code, status = gt.lab_status()
    if code != 0:
        raise SystemExit(f"the lab is not up (scripts/lab status):\n{status}")
    check_route()
    with record.modes():
        ping = subprocess.Popen(
            ["docker", "exec", "test1", "ping", "-c", "30", "-i", "0.5", gt.INET_ADDR],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            feed = LiveFeed(watch=False)
            feed.collect()
            time.sleep(2)
            url = f"http://{gt.INET_HOST_ADDR}:{gt.WEB_HOST_PORT}/"
            try:
                urllib.request.urlopen(url, timeout=3).read()
            except OSError as exc:  # web answers 404 or nothing: the flow is made anyway
                print(f"fetching {url}: {exc}", file=sys.stderr)
            time.sleep(1)
            snap = only_ours(feed.collect())
        finally:
            ping.terminate()
            gt.run("docker", "exec", "test1", "killall", "ping", check=False)
    missing = missing_modes(snap)
    if missing:
        raise SystemExit("not written: the read lacks " + ", ".join(missing))
    if check_only:
        print("every mode is in the read (not written: --check-only)")
        return
    DEMO.write_text(snapshot_to_json(snap))
    print(f"wrote {DEMO.relative_to(ROOT)}: {len(snap.containers)} containers, "
          f"{len(snap.interfaces)} interfaces, {len(snap.rules)} rules, "
          f"{len(snap.conntrack)} NATed flows")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check-only", action="store_true", help="record and check, write nothing")
    record_demo(parser.parse_args().check_only)


if __name__ == "__main__":
    main()
