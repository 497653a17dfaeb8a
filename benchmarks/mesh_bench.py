"""The live view's firewall poll on a swarm host with the ingress routing mesh.

On a host whose last Docker read found the mesh (ingress_sbox, lb_*, service tasks
on the ``ingress`` network), each firewall poll also lists the netfilter tables
inside those namespaces (a setns thread per namespace starting the save tools of
the families that have tables there) and reads ingress_sbox's IPVS table. This
measures what that adds to a poll, on the lab's one-node swarm (``scripts/lab swarm
up --one-node``: the service nxweb publishing 8081 -> 80), scaled to each task
count in turn: the poll as the live feed makes it (``collect_parts(POLLED, docker=the
last Docker part)``) against the same poll without a Docker part (the host's tables
alone), wall time and CPU (this process and the tools it starts), medians.

Runs only where the lab's swarm is inactive at the start (it brings the one-node
swarm up and takes it down again, also on failure); elsewhere it says so and
measures nothing. No packet is sent: the tasks only exist.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from netexplorer.collect.snapshot import Collectors, Part, collect_parts, mesh_targets
from netexplorer.live.feed import POLLED

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "scripts" / "lab"
SERVICE = "nxweb"
TASKS = (2, 10, 30)
WAIT_S = 180


@dataclass(frozen=True)
class MeshRow:
    tasks: int
    #: ingress_sbox, lb_* and the tasks: the namespaces the poll enters
    targets: int
    #: the poll as the live feed makes it, and the host's tables alone (seconds)
    wall: float
    cpu: float
    base_wall: float
    base_cpu: float


def _cpu() -> float:
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _swarm_state() -> str:
    done = subprocess.run(
        ["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or done.stderr.strip()


def _running_tasks() -> int:
    out = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={SERVICE}"],
        capture_output=True,
        text=True,
    ).stdout
    return len(out.split())


def _scale(tasks: int) -> None:
    subprocess.run(
        ["docker", "service", "scale", "--detach", f"{SERVICE}={tasks}"],
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + WAIT_S
    while _running_tasks() != tasks:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{SERVICE} did not reach {tasks} running tasks")
        time.sleep(1)


def _median(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), _cpu()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    return statistics.median(walls), statistics.median(cpus)


def _poll(c: Collectors, docker: Part | None) -> None:
    parts = collect_parts(POLLED, c, docker=docker)
    if docker is not None and "docker" not in parts:
        raise RuntimeError("the poll read no routing mesh")


def measure_mesh(repeats: int, tasks: Sequence[int] = TASKS) -> list[MeshRow]:
    """A row per task count; [] where the lab's swarm was not inactive."""
    if _swarm_state() != "inactive":
        return []
    rows: list[MeshRow] = []
    subprocess.run([str(LAB), "swarm", "up", "--one-node"], check=True, capture_output=True)
    try:
        for n in tasks:
            _scale(n)
            c = Collectors().resolved()
            docker = collect_parts(["docker"], c)["docker"]
            spaces, found = mesh_targets(docker.data)
            if len(found) != n:
                time.sleep(2)  # a task whose namespace was not read yet: read again
                docker = collect_parts(["docker"], c)["docker"]
                spaces, found = mesh_targets(docker.data)
            _poll(c, docker)  # warm: the tools' pages, pyroute2's modules
            wall, cpu = _median(lambda c=c, d=docker: _poll(c, d), repeats)  # type: ignore[misc]
            base_wall, base_cpu = _median(lambda c=c: _poll(c, None), repeats)  # type: ignore[misc]
            rows.append(MeshRow(n, len(spaces) + len(found), wall, cpu, base_wall, base_cpu))
    finally:
        subprocess.run([str(LAB), "swarm", "down"], capture_output=True)
    return rows


def mesh_section(rows: list[MeshRow], repeats: int) -> list[str]:
    lines = ["## Firewall poll with the swarm routing mesh", ""]
    if not rows:
        return [*lines, "skipped: the lab's swarm was not inactive at the start", ""]
    lines += [
        "The live view's firewall poll (every 2 s) on the lab's one-node swarm, the "
        f"service scaled to each task count; medians of {repeats} polls. The mesh's "
        "targets are ingress_sbox and each task on the ingress network; CPU counts the "
        "save tools the poll starts. Without the mesh a poll runs nothing of this.",
        "",
        "| tasks | mesh targets | poll, wall | poll, CPU | host alone, wall | host alone, CPU "
        "| the mesh adds, CPU per poll |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.tasks} | {r.targets} | {r.wall * 1000:.0f} ms | {r.cpu * 1000:.0f} ms | "
            f"{r.base_wall * 1000:.0f} ms | {r.base_cpu * 1000:.0f} ms | "
            f"{(r.cpu - r.base_cpu) * 1000:.0f} ms |"
        )
    return [*lines, ""]


if __name__ == "__main__":  # pragma: no cover
    print("\n".join(mesh_section(measure_mesh(5), 5)))
