"""The routing mesh wired up (netexplorer.ingress) and the doctor's mesh checks, on
the swarm recorded in the kernel VM (tests/recorded/ingress) and on a kernel
without IPVS (its no-ipvs/).

The faults mesh-port and mesh-backends look for are not what Docker leaves (it
removes the DNAT, the MARK rule and the IPVS service together, as
``scaled0.snapshot.json`` shows); producing them takes deleting a rule or a real
server by hand in the VM's ingress_sbox. They are made here from the recorded read
by taking the MARK rule, or the real servers, out of it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from netexplorer.analysis import analyse
from netexplorer.correlate import correlate
from netexplorer.doctor import diagnose
from netexplorer.ingress import mark_of, mesh_view, redirect_ports
from netexplorer.model import Container, DockerNamespace, Snapshot, namespace_key
from netexplorer.snapshot_io import load_snapshot

HERE = Path(__file__).resolve().parents[1] / "recorded" / "ingress"
MESH_CHECKS = ("mesh-ipvs", "mesh-port", "mesh-backends")


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return load_snapshot(HERE / "snapshot.json")


def _sbox(snap: Snapshot) -> DockerNamespace:
    return next(ns for ns in snap.namespaces if ns.name == "ingress_sbox")


def _tasks(snap: Snapshot) -> list[Container]:
    label = "com.docker.swarm.service.name"
    return [ct for ct in snap.containers if ct.labels.get(label) == "nxweb"]


def _ingress_ip(ct: Container) -> str:
    return next(ep.ipv4 or "" for ep in ct.endpoints if ep.network == "ingress")


def test_the_mesh_of_the_recording(snap: Snapshot) -> None:
    view = mesh_view(snap)
    sbox = _sbox(snap)
    tasks = _tasks(snap)
    # every rule of ingress_sbox and of the tasks, each with its owner
    assert [m.rule for m in view.rules if m.owner_key == sbox.key] == sbox.rules
    for ct in tasks:
        assert ct.inside is not None
        assert [m.rule for m in view.rules if m.owner_key == ct.key] == ct.inside.rules
        assert {m.owner_name for m in view.rules if m.owner_key == ct.key} == {ct.name}
    # one FWM service, the published port marked for it, a real server per task
    (svc,) = view.services
    assert svc.service.fwmark == 0x100 and svc.ports == ("8081",)
    assert sorted((d.dest.address, d.container_key) for d in svc.dests) == sorted(
        (_ingress_ip(ct), ct.key) for ct in tasks
    )
    assert view.services_of("ingress_sbox") == (svc,)


def test_selecting_a_task_lights_its_mesh(snap: Snapshot) -> None:
    links = correlate(snap).links
    sbox = _sbox(snap)
    mark_rules = [r for r in sbox.rules if mark_of(r) == 0x100 and r.dport == "8081"]
    assert mark_rules
    svc = mesh_view(snap).services[0]
    for ct in _tasks(snap):
        assert ct.inside is not None
        redirect = [r for r in ct.inside.rules if redirect_ports(r) == ("8081", "80")]
        related = links.related(ct.key)
        assert {r.key for r in redirect} <= related
        assert {r.key for r in mark_rules} <= related
        (mine,) = [d for d in svc.dests if d.container_key == ct.key]
        assert mine.key in related
        assert ct.key in links.related(mine.key)
        # Docker's DNS rules of the task are not the mesh's
        dns = [r for r in ct.inside.rules if "127.0.0.11" in r.text]
        assert dns and not {r.key for r in dns} & related
    # ingress_sbox: its rules and its IPVS service
    related = links.related(namespace_key("ingress_sbox"))
    assert {r.key for r in sbox.rules} | {svc.key} <= related
    assert links.labels[mark_rules[0].key].startswith("[ingress_sbox] -A PREROUTING")


def test_namespace_rules_are_items(snap: Snapshot) -> None:
    items = analyse(snap).items
    for r in _sbox(snap).rules:
        assert items[r.key] == (r,)


def _findings(snap: Snapshot) -> list[tuple[str, str]]:
    return [(f.check, f.title) for f in diagnose(snap, checks=MESH_CHECKS)]


def test_no_mesh_finding_on_the_healthy_recordings(snap: Snapshot) -> None:
    assert _findings(snap) == []
    assert _findings(load_snapshot(HERE / "scaled0.snapshot.json")) == []


def test_no_ipvs() -> None:
    snap = load_snapshot(HERE / "no-ipvs" / "snapshot.json")
    (finding,) = diagnose(snap, checks=MESH_CHECKS)
    assert finding.check == "mesh-ipvs"
    assert finding.title == "published swarm port 8081: this kernel has no IPVS"
    tasks = _tasks(snap)
    assert {ct.key for ct in tasks} <= set(finding.evidence)
    assert namespace_key("ingress_sbox") in finding.evidence
    assert "--publish-rm 8081 --publish-add published=8081,target=80,mode=host nxweb" in (
        finding.fix
    )


def _with_sbox(snap: Snapshot, **changes: object) -> Snapshot:
    spaces = [replace(ns, **changes) if ns.name == "ingress_sbox" else ns for ns in snap.namespaces]
    return replace(snap, namespaces=spaces)


def test_no_mark_rule(snap: Snapshot) -> None:
    sbox = _sbox(snap)
    broken = _with_sbox(snap, rules=[r for r in sbox.rules if r.target != "MARK"])
    assert _findings(broken) == [
        ("mesh-port", "published swarm port 8081: no MARK rule in ingress_sbox")
    ]


def test_no_ipvs_service_for_the_mark(snap: Snapshot) -> None:
    text = _sbox(snap).ipvs or ""
    broken = _with_sbox(snap, ipvs=text.replace("FWM  00000100", "FWM  00000200"))
    assert _findings(broken) == [
        ("mesh-port", "published swarm port 8081: no IPVS service for mark 0x100")
    ]


def test_no_real_server(snap: Snapshot) -> None:
    text = _sbox(snap).ipvs or ""
    header = "\n".join(text.splitlines()[:3])
    servers = [line for line in text.splitlines()[3:] if not line.strip().startswith("->")]
    broken = _with_sbox(snap, ipvs="\n".join([header, *servers]) + "\n")
    (finding,) = diagnose(broken, checks=MESH_CHECKS)
    assert finding.check == "mesh-backends"
    assert re.fullmatch(
        r"published swarm port 8081: no task behind it \(IPVS FWM 0x100 rr.*has no real server\)",
        finding.title,
    )
    assert mesh_view(broken).services[0].key in finding.evidence
