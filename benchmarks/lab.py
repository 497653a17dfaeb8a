"""Bench containers in the lab: ``nxb-*`` busybox containers spread over the default
bridge and the user networks ``nxb-net1``..``nxb-net3``, some with a published port
(127.0.0.1 only).

Everything made here carries the label ``netexplorer.bench=v1`` and the ``nxb-``
prefix; :func:`remove_all` removes exactly that (containers, then the networks).
Containers are created, started and removed through the Docker API on a pool of
threads (dockerd does the work; no ``docker`` CLI process per container), and an
interrupted creation stops submitting at once. Containers only sleep: no traffic
is sent anywhere.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

PREFIX = "nxb-"
LABEL_KEY, LABEL_VALUE = "netexplorer.bench", "v1"
LABEL = f"{LABEL_KEY}={LABEL_VALUE}"
#: the user networks; a container goes on ``bridge`` or one of these, in turn (a
#: bridge holds at most 1,024 ports, so 500 containers need several networks)
NETWORKS = {"nxb-net1": "172.31.1.0/24", "nxb-net2": "172.31.2.0/24", "nxb-net3": "172.31.3.0/24"}
PLACES = ("bridge", *NETWORKS)
IMAGE = "busybox:latest"
SLEEP_LOOP = "while true; do sleep 3600; done"
#: every PUBLISH_EVERY-th container publishes container port 80 on 127.0.0.1:<ephemeral>
PUBLISH_EVERY = 5
#: concurrent API calls while creating or removing (dockerd serialises part of it)
WORKERS = 8
TIMEOUT = 120


class LabError(RuntimeError):
    """A Docker call needed by the benchmark failed."""


def _api() -> Any:
    import docker

    return docker.APIClient(base_url="unix:///var/run/docker.sock", timeout=TIMEOUT)


def _docker_cli(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LabError(f"docker {' '.join(args[:3])} ...: {proc.stderr.strip()}")
    return proc.stdout


def docker_available() -> str | None:
    """None if the daemon answers and the image is there, else why not."""
    try:
        _docker_cli("info", "--format", "{{.ServerVersion}}")
    except (LabError, OSError) as exc:
        return f"no Docker daemon: {exc}"
    try:
        _docker_cli("image", "inspect", IMAGE)
    except LabError:
        return f"image {IMAGE} is missing: run scripts/lab up"
    return None


def ensure_networks(api: Any) -> None:
    have = {n["Name"] for n in api.networks(filters={"label": LABEL})}
    for name, subnet in NETWORKS.items():
        if name in have:
            continue
        import docker

        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
        api.create_network(name, driver="bridge", ipam=ipam, labels={LABEL_KEY: LABEL_VALUE})


def bench_names(api: Any | None = None) -> list[str]:
    """Names of the bench containers that exist now (label and prefix both)."""
    api = api or _api()
    found = api.containers(all=True, filters={"label": LABEL})
    names = (str(n).lstrip("/") for c in found for n in (c.get("Names") or [])[:1])
    return sorted(n for n in names if n.startswith(PREFIX))


def container_name(index: int) -> str:
    return f"{PREFIX}{index:04d}"


def _run_one(api: Any, index: int) -> None:
    place = PLACES[index % len(PLACES)]
    ports: list[int] = []
    bindings: dict[int, tuple[str]] = {}
    if index % PUBLISH_EVERY == 0:
        ports, bindings = [80], {80: ("127.0.0.1",)}
    host_config = api.create_host_config(network_mode=place, port_bindings=bindings)
    created = api.create_container(
        IMAGE,
        ["/bin/sh", "-c", SLEEP_LOOP],
        name=container_name(index),
        labels={LABEL_KEY: LABEL_VALUE},
        ports=ports,
        host_config=host_config,
    )
    api.start(created["Id"])


def _in_parallel(func: Callable[[Any], None], items: Iterable[Any]) -> list[str]:
    """Run ``func`` on every item on WORKERS threads; problems in words. On Ctrl-C or
    any exception of the caller, nothing more is started and the running calls end."""
    problems: list[str] = []
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    futures: list[Future[None]] = []
    try:
        futures = [pool.submit(func, item) for item in items]
        wait(futures)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for fut in futures:
        if not fut.cancelled() and fut.exception() is not None:
            problems.append(str(fut.exception()))
    return problems


def grow_to(count: int) -> int:
    """Make sure the first ``count`` bench containers exist and run; returns how many
    bench containers exist."""
    api = _api()
    ensure_networks(api)
    have = set(bench_names(api))
    wanted = [i for i in range(count) if container_name(i) not in have]
    problems = _in_parallel(lambda i: _run_one(api, i), wanted)
    if problems:
        raise LabError(f"{len(problems)} bench container(s) failed to start: {problems[0]}")
    return len(bench_names(api))


def remove_all() -> list[str]:
    """Remove every bench container and network; returns problems (words)."""
    try:
        api = _api()
        found = api.containers(all=True, filters={"label": LABEL})
    except Exception as exc:
        return [f"cannot list bench containers: {exc}"]
    ids = [
        c["Id"]
        for c in found
        if any(str(n).lstrip("/").startswith(PREFIX) for n in c.get("Names") or [])
    ]
    problems = _in_parallel(lambda cid: api.remove_container(cid, force=True), ids)
    try:
        for net in api.networks(filters={"label": LABEL}):
            if str(net.get("Name", "")).startswith(PREFIX):
                api.remove_network(net["Id"])
    except Exception as exc:
        problems.append(f"cannot remove the bench networks: {exc}")
    return problems


def running_containers() -> list[str]:
    """Names of all running containers (the lab's included): what collection sees."""
    return sorted(
        str(n).lstrip("/") for c in _api().containers() for n in (c.get("Names") or [])[:1]
    )
