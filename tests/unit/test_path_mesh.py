"""The path through the swarm's ingress routing mesh, on the one-node swarm recorded
in the kernel VM (tests/recorded/ingress, made by its record.sh), checked against
the ground truth recorded with it: each namespace's ``iptables-nft-save -c`` (the
rule each hop names is a line of it), ``/proc/net/ip_vs`` in ingress_sbox (split
here on its own), ``ip addr`` inside ingress_sbox, the tasks' ``docker inspect``
and the service's published and target ports. The same path is checked on the
live mesh in tests/integration/test_path_mesh.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from netexplorer.correlate import correlate
from netexplorer.map.export import export
from netexplorer.map.layout import draw
from netexplorer.map.model import build_map
from netexplorer.model import Snapshot
from netexplorer.path import PathResult, trace_path
from netexplorer.snapshot_io import load_snapshot

HERE = Path(__file__).resolve().parents[1] / "recorded" / "ingress"
TRUTH = HERE / "truth"
NODE = "198.51.100.17"


def snapshot(name: str = "snapshot.json") -> Snapshot:
    return load_snapshot(HERE / name)


def path(snap: Snapshot, src: str, dst: str, task: str | None = None) -> PathResult:
    return trace_path(snap, correlate(snap), src, dst, task=task)


def service() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((TRUTH / "service.json").read_text())[0]
    return doc


PORTS = service()["Endpoint"]["Ports"][0]
PUBLISHED, TARGET = PORTS["PublishedPort"], PORTS["TargetPort"]


def tasks() -> dict[str, str]:
    """task name -> its address on the ingress network (docker inspect)."""
    out = {}
    for f in sorted(TRUTH.glob("ct.*.inspect.json")):
        doc = json.loads(f.read_text())[0]
        out[doc["Name"].lstrip("/")] = doc["NetworkSettings"]["Networks"]["ingress"]["IPAddress"]
    return out


def saved(where: str) -> list[str]:
    """The rule lines of ``iptables-nft-save -c`` in ``where`` (before the snapshot)."""
    text = (TRUTH / "before" / f"{where}.iptables-nft-save.txt").read_text()
    return [line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("[")]


def ipvs_truth(name: str = "before") -> dict[int, list[str]]:
    """fwmark -> real server addresses, split from the recorded /proc/net/ip_vs."""
    out: dict[int, list[str]] = {}
    mark = None
    for line in (TRUTH / name / "ns.ingress_sbox.ip_vs.txt").read_text().splitlines():
        words = line.split()
        if words[:1] == ["FWM"]:
            mark = int(words[1], 16)
            out[mark] = []
        elif words[:1] == ["->"] and mark is not None and len(words[1]) == 13:
            h = words[1][:8]
            out[mark].append(".".join(str(int(h[i : i + 2], 16)) for i in range(0, 8, 2)))
    return out


def sbox_address(dev: str) -> str:
    """ingress_sbox's first address on ``dev`` (ip addr inside it)."""
    text = (TRUTH / "ns.ingress_sbox.addr.txt").read_text()
    block = text.split(f": {dev}@", 1)[1]
    return block.split("inet ", 1)[1].split("/", 1)[0]


def titles(hops: Any) -> list[str]:
    return [h.title for h in hops]


def hop(res: PathResult, start: str) -> Any:
    return next(h for h in res.hops if h.title.startswith(start))


@pytest.mark.parametrize("task", sorted(tasks()))
def test_host_to_the_published_port_through_the_mesh_to_each_task(task: str) -> None:
    snap = snapshot()
    address = tasks()[task]
    res = path(snap, "host", f"{NODE}:{PUBLISHED}", task=task)
    assert res.verdict == "delivered", res.sentence
    assert res.packet.proto == "tcp" and res.packet.dport == PUBLISHED
    # the host's DNAT to ingress_sbox's leg on docker_gwbridge, a line of the host's save
    dnat = hop(res, "nat OUTPUT (nft): DNAT by ")
    gw = sbox_address("eth1")
    assert dnat.title.endswith(f"-> destination {gw}:{PUBLISHED}")
    assert dnat.title.split(" by ", 1)[1].split(" -> ")[0] in saved("host")
    # ingress_sbox's MARK: its rule is a line of ingress_sbox's save, its mark the
    # firewall mark of the IPVS service whose real servers are the tasks
    (marks,) = ipvs_truth().items()
    fwmark, servers = marks
    assert sorted(servers) == sorted(tasks().values())
    mark = hop(res, "ingress_sbox: mangle PREROUTING: MARK by ")
    assert f"(mark {fwmark:#x})" in mark.title
    assert mark.title.split(" by ", 1)[1].split(" (mark")[0] in saved("ns.ingress_sbox")
    assert mark.rule is not None and mark.packets is not None and mark.packets >= 1
    ipvs = next(h for h in res.hops if h.kind == "ipvs")
    assert ipvs.title.startswith(f"ingress_sbox: IPVS FWM {fwmark:#x} rr (matched by the mark")
    assert f"followed {address} ({task})" in ipvs.title
    others = [f"{a} ({n})" for n, a in tasks().items() if n != task]
    assert all(o in ipvs.title.split("may pick instead: ", 1)[1] for o in others)
    assert hop(res, "ingress_sbox: IPVS Masq").title.endswith(
        f"{gw}:{PUBLISHED} -> {address}:{PUBLISHED}"
    )
    snat = hop(res, "ingress_sbox: nat POSTROUTING: SNAT by ")
    assert "-m ipvs --ipvs" in snat.title
    assert snat.title.endswith(f"-> source {sbox_address('eth0')}")
    # br0 of the ingress overlay, then the task's REDIRECT, a line of its own save
    assert any(h.kind == "bridge" and h.title.endswith(f"({task})") for h in res.hops)
    redirect = hop(res, f"{task}: nat PREROUTING: REDIRECT by ")
    assert redirect.title.split(" by ", 1)[1].split(" -> ")[0] in saved(f"ct.{task}")
    accept = hop(res, f"{task}: filter INPUT: ACCEPT by ")
    assert accept.title.split(" by ", 1)[1] in saved(f"ct.{task}")
    assert res.delivered_as is not None
    assert (res.delivered_as.dst, res.delivered_as.dport) == (address, TARGET)
    assert res.delivered_as.src == sbox_address("eth0")
    # the reply, each namespace's conntrack undoing its NAT, back to the host
    assert res.reply_verdict == "delivered"
    reply = titles(res.reply)
    assert f"{task}: conntrack undoes the REDIRECT: source {address}:{TARGET} -> " in "".join(reply)
    assert any(
        t.startswith("ingress_sbox: IPVS Masq gives the reply")
        and t.endswith(f"-> {gw}:{PUBLISHED}")
        for t in reply
    )
    assert reply[-1] == f"delivered to the host ({NODE})"


def test_without_a_task_asked_the_first_local_real_server_is_followed() -> None:
    snap = snapshot()
    res = path(snap, "host", f"{NODE}:{PUBLISHED}")
    first = ipvs_truth()[0x100][0]
    assert res.delivered_as is not None and res.delivered_as.dst == first
    bad = path(snap, "host", f"{NODE}:{PUBLISHED}", task="nosuchtask")
    assert bad.verdict == "uncertain" and "nosuchtask" in bad.sentence


def test_from_the_internet_and_back_out() -> None:
    snap = snapshot()
    res = path(snap, "internet", f"{NODE}:{PUBLISHED}")
    assert res.verdict == "delivered" and res.reply_verdict == "delivered", res.sentence
    assert titles(res.hops)[0].startswith("arrives from 203.0.113.1 on ")
    fwd = hop(res, "filter FORWARD (nft): ACCEPT by ")
    assert "DOCKER-INGRESS" in fwd.title and fwd.title.split(" by ", 1)[1] in saved("host")
    assert res.reply[-1].kind == "egress"
    assert res.reply[-1].title.endswith(f"as tcp {NODE}:{PUBLISHED} -> 203.0.113.1:40000")


def test_a_service_scaled_to_no_task_publishes_nothing() -> None:
    """Scaled to 0, Docker removes the port's DNAT and IPVS service: the packet is
    the host's own (nothing enters ingress_sbox), and the map has no mesh port."""
    snap = snapshot("scaled0.snapshot.json")
    assert ipvs_truth("scaled0") == {}
    host = (TRUTH / "scaled0" / "host.iptables-nft-save.txt").read_text()
    assert f"--dport {PUBLISHED} -j DNAT" not in host
    res = path(snap, "host", f"{NODE}:{PUBLISHED}")
    assert not any("ingress_sbox" in t for t in titles(res.hops))
    assert build_map(snap, correlate(snap)).mesh == ()


def test_a_service_without_real_servers_is_rejected_by_ipvs() -> None:
    """IPVS with the service but no real server (Docker removes both together, so
    the recorded table is stripped of its real servers here): port unreachable."""
    snap = copy.deepcopy(snapshot())
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    assert sbox.ipvs is not None
    sbox.ipvs = "\n".join(line for line in sbox.ipvs.splitlines() if "Masq" not in line)
    res = path(snap, "host", f"{NODE}:{PUBLISHED}")
    assert res.verdict == "rejected"
    assert res.hops[-1].title == (
        "IPVS FWM 0x100 rr in ingress_sbox (matched by the mark 0x100): no real server, "
        "so IPVS answers ICMP port unreachable"
    )
    assert "docker service ps" in res.sentence


def test_on_a_kernel_without_ipvs_the_path_ends_in_ingress_sbox() -> None:
    """Recorded on this sandbox's kernel (no IPVS): Docker writes no DNAT for the
    port, and a packet sent to ingress_sbox's leg itself ends at the missing IPVS."""
    snap = snapshot("no-ipvs/snapshot.json")
    assert not any("DOCKER-INGRESS" in r.text and r.target == "DNAT" for r in snap.rules)
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    assert sbox.ipvs is None and sbox.chains
    leg = next(i for i in sbox.interfaces if i.name == "eth1").addresses[0].address
    res = trace_path(snap, correlate(snap), "host", leg, "tcp", PUBLISHED)
    assert res.verdict == "uncertain"
    assert res.hops[-1].title.startswith("IPVS load balancing in ingress_sbox: not present")
    assert build_map(snap, correlate(snap)).mesh == ()


def test_reads_without_the_namespaces_rules_say_what_is_missing() -> None:
    """An older read (no rules read inside the namespaces), made by clearing them
    from the recorded one: the path ends where they are needed, with the fix."""
    snap = snapshot()
    old = copy.deepcopy(snap)
    for ns in old.namespaces:
        ns.rules, ns.chains = [], []
    res = path(old, "host", f"{NODE}:{PUBLISHED}")
    assert res.verdict == "uncertain"
    assert res.hops[-1].title.startswith("IPVS load balancing in ingress_sbox: not readable")
    assert "read the host again, as root" in res.sentence
    old = copy.deepcopy(snap)
    for ct in old.containers:
        if ct.inside is not None:
            ct.inside.rules, ct.inside.chains = [], []
    res = path(old, "host", f"{NODE}:{PUBLISHED}")
    assert res.verdict == "uncertain" and "netfilter rules inside nxweb." in res.sentence


def test_the_map_draws_the_mesh_port_to_its_tasks() -> None:
    snap = snapshot()
    corr = correlate(snap)
    hmap = build_map(snap, corr)
    (mesh,) = hmap.mesh
    rules = {r.key: r for r in snap.rules}
    sbox = next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")
    assert rules[mesh.dnat_key].text in saved("host")
    assert (mesh.protocol, mesh.port, mesh.to) == (
        "tcp",
        PUBLISHED,
        f"{sbox_address('eth1')}:{PUBLISHED}",
    )
    assert mesh.mark == 0x100 and mesh.service == "FWM 0x100 rr" and mesh.missing is None
    assert mesh.sbox_key == sbox.key
    assert {r.key for r in sbox.rules if r.target == "MARK" and r.dport} == {mesh.mark_key}
    assert sorted((t.name, t.address, t.port) for t in mesh.tasks) == sorted(
        (n, a, TARGET) for n, a in tasks().items()
    )
    inside = {r.key: r for ct in snap.containers if ct.inside for r in ct.inside.rules}
    for t in mesh.tasks:
        assert t.redirect_key is not None and inside[t.redirect_key].target == "REDIRECT"
    text = draw(hmap).text()
    assert (
        f"tcp {PUBLISHED} ─▶ DNAT to {mesh.to} ─▶ ingress_sbox · MARK 0x100 · IPVS FWM 0x100 rr"
        in text
    )
    for name, address in tasks().items():
        assert f"─▶ {name} {address} ─▶ port {TARGET} (REDIRECT)" in text
    doc = json.loads(export(hmap, "json"))
    ipvs_edges = [e for e in doc["edges"] if e["kind"] == "ipvs"]
    assert sorted(e["to"] for e in ipvs_edges) == sorted(t.key for t in mesh.tasks)
    assert sorted(e["key"] for e in ipvs_edges) == sorted(t.redirect_key for t in mesh.tasks)
    assert "ingress_sbox" in export(hmap, "dot") and "ingress_sbox" in export(hmap, "mermaid")
