"""On the lab: names as an operator says them, and docker run flags that read back.

The sidecar's line of ``netexplorer snapshot`` names its owner (``container:<name>``);
the flags derived from a read, run again with ``docker run`` (and the ``docker
network connect`` commands), give a container the same networking, compared in
``docker inspect`` (ground truth read without netexplorer).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.naming import connect_commands, run_flags

from . import groundtruth as gt

pytestmark = pytest.mark.integration


@pytest.fixture
def names(lab: str) -> Iterator[list[str]]:
    """Throwaway container names, removed after the test (also on failure)."""
    made: list[str] = []
    try:
        yield made
    finally:
        for name in reversed(made):
            gt.remove_container(name)


def new_name(names: list[str]) -> str:
    name = gt.new_throwaway_name()
    names.append(name)
    return name


def snapshot_text() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "netexplorer", "snapshot"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def test_snapshot_prints_container_owner_for_a_sidecar(names: list[str]) -> None:
    owner = gt.create_container(new_name(names))
    sidecar = gt.create_container(new_name(names), (f"container:{owner}",))
    mode = gt.docker_inspect(sidecar)["HostConfig"]["NetworkMode"]
    assert mode == f"container:{gt.docker_inspect(owner)['Id']}"  # Docker stores the id
    lines = [line.split() for line in snapshot_text().splitlines()]
    mine = [line for line in lines if line and line[0] == sidecar]
    assert mine == [[sidecar, f"container:{owner}", "shares", f"{owner}'s", "network", "namespace"]]


def networking(name: str) -> dict[str, Any]:
    """What ``docker inspect`` says of a container's networking, comparable across runs."""
    doc = gt.docker_inspect(name)
    nets = doc["NetworkSettings"]["Networks"]
    ports = doc["HostConfig"].get("PortBindings") or {}
    mode = doc["HostConfig"]["NetworkMode"]
    return {
        "mode": mode,
        # the default bridge hands out the next free address: only its presence counts
        "addresses": {
            net: (None if net == "bridge" else cfg.get("IPAddress")) for net, cfg in nets.items()
        },
        "ports": {
            port: sorted((b.get("HostIp") or "", b.get("HostPort")) for b in binds)
            for port, binds in ports.items()
        },
    }


def rerun(name: str, flags: list[str], connects: list[str]) -> None:
    argv = ["docker", "run", "-d", "--pull", "never", "--label", gt.THROWAWAY_LABEL]
    argv += ["--name", name, *[a for flag in flags for a in shlex.split(flag)]]
    gt.run(*argv, gt.IMAGE, "/bin/sh", "-c", gt.SLEEP_LOOP)
    for command in connects:
        gt.run(*shlex.split(command))


@pytest.mark.parametrize(
    "how",
    [
        "user network, fixed address, ports, a second network",
        "host",
        "none",
        "container",
    ],
)
def test_docker_run_flags_read_back_give_the_same_networking(names: list[str], how: str) -> None:
    owner = None
    if how == "container":
        owner = gt.create_container(new_name(names))
    name = new_name(names)
    if how.startswith("user"):
        gt.create_container(
            name,
            ("nxlab", "bridge"),
            ["--ip", "172.30.0.77", "-p", "127.0.0.1:18077:80", "-p", "18078:81/udp"],
        )
    else:
        gt.create_container(name, (f"container:{owner}" if owner else how,))
    before = networking(name)
    snap = collect_snapshot()
    ct = next(c for c in snap.containers if c.name == name)
    flags, connects = run_flags(ct, snap.containers), connect_commands(ct)
    gt.remove_container(name)
    rerun(name, flags, connects)
    after = networking(name)
    if owner is not None:
        # the same owner, by its (unchanged) id
        assert after == before and after["mode"].endswith(gt.docker_inspect(owner)["Id"])
    else:
        assert after == before, (flags, connects)
    if how.startswith("user"):
        assert flags[:2] == ["--network nxlab", "--ip 172.30.0.77"]
        assert connects == [f"docker network connect bridge {name}"]


def test_the_labs_containers_read_back_as_scripts_lab_made_them(lab: str) -> None:
    snap = collect_snapshot()
    by_name = {c.name: c for c in snap.containers}
    # scripts/lab: docker run --network nxlab --ip 172.30.0.2 -p 8080:80 ... web;
    # docker network connect bridge web; db on nxlab with --ip 172.30.0.3
    assert run_flags(by_name["web"], snap.containers) == [
        "--network nxlab",
        "--ip 172.30.0.2",
        "-p 8080:80",
    ]
    assert connect_commands(by_name["web"]) == ["docker network connect bridge web"]
    assert run_flags(by_name["db"], snap.containers) == ["--network nxlab", "--ip 172.30.0.3"]
    assert run_flags(by_name["test1"], snap.containers) == []
