"""Bench containers in the lab: ``nxb-*`` busybox containers on the default bridge and
on a user network ``nxb-net``, some with a published port (127.0.0.1 only).

Everything made here carries the label ``netexplorer.bench=v1`` and the ``nxb-``
prefix; :func:`remove_all` removes exactly that (containers, then the network).
Containers only sleep: no traffic is sent anywhere.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

PREFIX = "nxb-"
LABEL = "netexplorer.bench=v1"
NETWORK = "nxb-net"
NETWORK_SUBNET = "172.31.0.0/16"
IMAGE = "busybox:latest"
SLEEP_LOOP = "while true; do sleep 3600; done"
#: every PUBLISH_EVERY-th container publishes container port 80 on 127.0.0.1:<ephemeral>
PUBLISH_EVERY = 5
#: every USER_NET_EVERY-th container goes on nxb-net instead of the default bridge
USER_NET_EVERY = 2
CREATE_WORKERS = 4


class LabError(RuntimeError):
    """A docker command needed by the benchmark failed."""


def _docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise LabError(f"docker {' '.join(args[:3])} ...: {proc.stderr.strip()}")
    return proc.stdout


def docker_available() -> str | None:
    """None if the daemon answers and the image is there, else why not."""
    try:
        _docker("info", "--format", "{{.ServerVersion}}")
    except (LabError, OSError) as exc:
        return f"no Docker daemon: {exc}"
    try:
        _docker("image", "inspect", IMAGE)
    except LabError:
        return f"image {IMAGE} is missing: run scripts/lab up"
    return None


def ensure_network() -> None:
    if _docker("network", "ls", "-q", "--filter", f"name=^{NETWORK}$").strip():
        return
    _docker("network", "create", "--label", LABEL, "--subnet", NETWORK_SUBNET, NETWORK)


def bench_names() -> list[str]:
    """Names of the bench containers that exist now (label and prefix both)."""
    out = _docker("ps", "-a", "--filter", f"label={LABEL}", "--format", "{{.Names}}")
    return sorted(n for n in out.split() if n.startswith(PREFIX))


def _run_one(index: int) -> None:
    name = f"{PREFIX}{index:04d}"
    args = ["run", "-d", "--pull", "never", "--label", LABEL, "--name", name]
    if index % USER_NET_EVERY == 1:
        args += ["--network", NETWORK]
    if index % PUBLISH_EVERY == 0:
        args += ["-p", "127.0.0.1::80"]
    _docker(*args, IMAGE, "/bin/sh", "-c", SLEEP_LOOP)


def grow_to(count: int) -> int:
    """Make sure exactly the first ``count`` bench containers exist; returns how many."""
    ensure_network()
    have = set(bench_names())
    wanted = [i for i in range(count) if f"{PREFIX}{i:04d}" not in have]
    with ThreadPoolExecutor(max_workers=CREATE_WORKERS) as pool:
        list(pool.map(_run_one, wanted))
    return len(bench_names())


def remove_all() -> list[str]:
    """Remove every bench container and the bench network; returns problems (words)."""
    problems: list[str] = []
    try:
        names = bench_names()
    except (LabError, OSError) as exc:
        return [f"cannot list bench containers: {exc}"]
    for start in range(0, len(names), 50):
        try:
            _docker("rm", "-f", *names[start : start + 50])
        except LabError as exc:
            problems.append(str(exc))
    try:
        if _docker("network", "ls", "-q", "--filter", f"name=^{NETWORK}$").strip():
            _docker("network", "rm", NETWORK)
    except LabError as exc:
        problems.append(str(exc))
    return problems


def running_containers() -> list[str]:
    """Names of all running containers (the lab's included): what collection sees."""
    return sorted(_docker("ps", "--format", "{{.Names}}").split())
