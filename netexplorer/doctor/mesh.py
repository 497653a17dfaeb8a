"""Swarm routing-mesh checks: a published port that the mesh cannot deliver.

A published swarm port goes host ``DOCKER-INGRESS`` DNAT -> ``ingress_sbox``
mangle MARK -> IPVS ``FWM <mark>`` -> a task (see :mod:`netexplorer.ingress`). The
checks read that chain in the read: no IPVS in the kernel at all, a port with no
MARK rule or no IPVS service for its mark, a service with no real server left.
"""

from __future__ import annotations

from netexplorer.correlate import Correlation
from netexplorer.doctor import ERROR, Finding
from netexplorer.ingress import INGRESS_CHAIN, mark_of, redirect_ports
from netexplorer.model import DNAT_TARGETS, DockerNamespace, Rule, Snapshot

SBOX = "ingress_sbox"
#: the label Docker gives a service's task containers
SERVICE_LABEL = "com.docker.swarm.service.name"


def published_ports(snap: Snapshot) -> dict[str, list[Rule]]:
    """Published swarm port (``--dport`` as written) -> the host's DOCKER-INGRESS DNAT
    rules for it."""
    out: dict[str, list[Rule]] = {}
    for r in snap.rules:
        if r.chain == INGRESS_CHAIN and r.target in DNAT_TARGETS and r.dport:
            out.setdefault(r.dport, []).append(r)
    return out


def _sbox(snap: Snapshot) -> DockerNamespace | None:
    return next((ns for ns in snap.namespaces if ns.name == SBOX and not ns.error), None)


def _ports_text(ports: list[str]) -> str:
    return ", ".join(ports)


def task_ports(corr: Correlation) -> dict[str, list[str]]:
    """Published port -> the keys of the tasks that take it and of their REDIRECT
    rules (a task's own namespace redirects the published port to its target)."""
    out: dict[str, list[str]] = {}
    for mr in corr.mesh.rules:
        ports = redirect_ports(mr.rule)
        if ports is not None and mr.owner_key.startswith("ct:"):
            out.setdefault(ports[0], []).extend((mr.owner_key, mr.rule.key))
    return out


def check_mesh_ipvs(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """Published swarm ports on a host whose kernel has no IPVS (ingress_sbox has no
    ``/proc/net/ip_vs``): the mesh cannot balance, so nothing answers them. Docker
    then writes no DNAT and no MARK for them either; the tasks' REDIRECT rules
    still name the ports."""
    sbox = _sbox(snap)
    if sbox is None or sbox.ipvs is not None:
        return []
    dnat = published_ports(snap)
    tasks = task_ports(corr)
    names = sorted(set(dnat) | set(tasks), key=lambda p: (len(p), p))
    if not names:
        return []
    services = sorted(
        {
            ct.labels.get(SERVICE_LABEL, "")
            for keys in tasks.values()
            for key in keys
            if (ct := corr.containers_by_id.get(key.removeprefix("ct:"))) is not None
        }
        - {""}
    )
    service = " ".join(services) or "SERVICE"
    # the published and target port the tasks' REDIRECT rules name, when one pair
    pairs = {p for m in corr.mesh.rules if (p := redirect_ports(m.rule)) is not None}
    published, target = next(iter(pairs)) if len(pairs) == 1 else ("P", "T")
    return [
        Finding(
            "mesh-ipvs",
            SBOX,
            f"published swarm port{'s' if len(names) > 1 else ''} {_ports_text(names)}: "
            "this kernel has no IPVS",
            "The routing mesh balances published ports with IPVS inside ingress_sbox, "
            'and this kernel has none (no /proc/net/ip_vs there; dockerd logs "Could not '
            'get ipvs family information from the kernel"), so Docker wrote no DNAT on '
            "the host and no MARK in ingress_sbox for them: nothing on this node answers "
            "the ports, though the service's tasks run.",
            "modprobe ip_vs && systemctl restart docker\n"
            "# or a kernel built with CONFIG_IP_VS (Debian's has it); or publish in "
            f"host mode: docker service update --publish-rm {published} --publish-add "
            f"published={published},target={target},mode=host {service}",
            [
                sbox.key,
                *(r.key for p in names for r in dnat.get(p, [])),
                *(k for p in names for k in tasks.get(p, [])),
            ],
        )
    ]


def check_mesh_port(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A published swarm port with no MARK rule in ingress_sbox, or whose mark has no
    IPVS service there."""
    sbox = _sbox(snap)
    if sbox is None or sbox.ipvs is None:
        return []  # no IPVS: mesh-ipvs says it
    out: list[Finding] = []
    services = {s.service.fwmark: s for s in corr.mesh.services_of(SBOX)}
    for port, dnat in sorted(published_ports(snap).items()):
        marks = [
            r
            for r in sbox.rules
            if r.table == "mangle" and r.dport == port and mark_of(r) is not None
        ]
        evidence = [sbox.key, *(r.key for r in dnat)]
        if not marks:
            out.append(
                Finding(
                    "mesh-port",
                    f"{port}",
                    f"published swarm port {port}: no MARK rule in ingress_sbox",
                    f"The host DNATs port {port} to ingress_sbox, but no mangle rule "
                    "there gives its packets the service's firewall mark, so IPVS does "
                    "not take them: connections to the port fail.",
                    "systemctl restart docker (Docker writes ingress_sbox's rules again), "
                    "or docker service update --force SERVICE",
                    evidence,
                )
            )
            continue
        missing = [r for r in marks if mark_of(r) not in services]
        if not missing:
            continue
        mark = mark_of(missing[0])
        out.append(
            Finding(
                "mesh-port",
                f"{port}",
                f"published swarm port {port}: no IPVS service for mark {mark:#x}",
                f"ingress_sbox marks port {port}'s packets {mark:#x}, but its IPVS table "
                f"has no FWM {mark:#x} service, so nothing balances them to a task: "
                "connections to the port fail.",
                "docker service update --force SERVICE (Docker programs IPVS again), "
                "or systemctl restart docker",
                [*evidence, *(r.key for r in missing)],
            )
        )
    return out


def check_mesh_backends(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """An IPVS service of ingress_sbox that published ports are marked for, with no
    real server: every task of the service is down, connections are refused."""
    out: list[Finding] = []
    ports = published_ports(snap)
    for svc in corr.mesh.services_of(SBOX):
        published = [p for p in svc.ports if p in ports]
        if svc.dests or not published:
            continue
        sbox = _sbox(snap)
        marks = [r.key for r in (sbox.rules if sbox else []) if mark_of(r) == svc.service.fwmark]
        out.append(
            Finding(
                "mesh-backends",
                svc.service.describe(),
                f"published swarm port {_ports_text(published)}: no task behind it "
                f"(IPVS {svc.service.describe()} has no real server)",
                f"ingress_sbox balances port {_ports_text(published)} with IPVS "
                f"{svc.service.describe()}, which lists no real server: every task of the "
                "service is down or it is scaled to 0, so connections to the port are "
                "refused, on every node of the swarm.",
                "docker service ps --no-trunc SERVICE   # why its tasks stopped\n"
                "docker service scale SERVICE=1",
                [svc.key, f"ns:{SBOX}", *marks, *(r.key for p in published for r in ports[p])],
                ERROR,
            )
        )
    return out
