"""Ground truth of the swarm ingress routing mesh, read without netexplorer.

The one-node swarm of ``scripts/lab swarm up --one-node``: service ``nxweb``, 2
replicas, publishing 8081 -> 80 through the mesh. Read here with the system's
tools: ``ip{,6}tables-*-save -c`` and ``cat /proc/net/ip_vs`` inside
``ingress_sbox`` (``nsenter --net=FILE``) and inside each task (``nsenter -t PID
-n``), ``docker inspect`` of the tasks. The mesh needs IPVS, which some kernels
lack (this project's sandbox): :func:`skip_no_ipvs` skips a ``kernel`` test there
(``scripts/kernel-vm test`` runs it on Debian's kernel).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from .groundtruth import NO_KERNEL_DRIVER

NETNS_DIR = "/var/run/docker/netns"
SBOX = f"{NETNS_DIR}/ingress_sbox"
SERVICE = "nxweb"
REPLICAS = 2
PUBLISHED = 8081
TARGET = 80
#: the lab's swarm address (nx-sw0), where the published port answers
HOST_ADDR = "198.51.100.17"
#: (backend, family) -> the save tool
SAVE_TOOLS = {
    ("iptables-nft", "ipv4"): "iptables-nft-save",
    ("iptables-nft", "ipv6"): "ip6tables-nft-save",
    ("iptables-legacy", "ipv4"): "iptables-legacy-save",
    ("iptables-legacy", "ipv6"): "ip6tables-legacy-save",
}


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout


def kernel_lacks_ipvs() -> bool:
    """No IPVS: neither loaded (``/proc/net/ip_vs``) nor a module to load (modinfo)."""
    if os.path.exists("/proc/net/ip_vs"):
        return False
    done = subprocess.run(["modinfo", "ip_vs"], capture_output=True, check=False)
    return done.returncode != 0


def skip_no_ipvs() -> None:
    """Skip a ``kernel`` test on a kernel without IPVS (tests/conftest.py lets this
    skip pass locally; in the VM it is a failure)."""
    pytest.skip(
        f"{NO_KERNEL_DRIVER}IPVS (ip_vs), which the routing mesh balances with; "
        "scripts/kernel-vm test runs this on Debian's kernel"
    )


@dataclass(frozen=True, slots=True)
class Task:
    """A running task of the service, as ``docker inspect`` shows it."""

    id: str
    name: str
    pid: int
    #: its address on the ingress network
    ingress_ip: str


def tasks() -> list[Task]:
    """The service's running tasks, by name."""
    ids = run(
        "docker",
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        f"label=com.docker.swarm.service.name={SERVICE}",
    ).split()
    out = []
    for doc in json.loads(run("docker", "inspect", *ids)) if ids else []:
        nets = doc["NetworkSettings"]["Networks"]
        out.append(
            Task(
                doc["Id"],
                doc["Name"].lstrip("/"),
                doc["State"]["Pid"],
                nets["ingress"]["IPAddress"],
            )
        )
    return sorted(out, key=lambda t: t.name)


def sbox_save(backend: str, family: str) -> str:
    return run("nsenter", f"--net={SBOX}", SAVE_TOOLS[backend, family], "-c")


def task_save(task: Task, backend: str, family: str) -> str:
    return run("nsenter", "-t", str(task.pid), "-n", SAVE_TOOLS[backend, family], "-c")


def sbox_ipvs() -> str:
    return run("nsenter", f"--net={SBOX}", "cat", "/proc/net/ip_vs")


def ipvs_real_servers(text: str) -> dict[int, list[str]]:
    """fwmark -> its real servers' addresses (dotted), from ``/proc/net/ip_vs`` text,
    split here on its own (FWM services and IPv4 servers: what the mesh makes)."""
    out: dict[int, list[str]] = {}
    mark: int | None = None
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "FWM":
            mark = int(words[1], 16)
            out[mark] = []
        elif len(words) >= 2 and words[0] == "->" and mark is not None and ":" in words[1]:
            hexaddr = words[1].split(":")[0]
            if len(hexaddr) == 8:
                out[mark].append(".".join(str(int(hexaddr[i : i + 2], 16)) for i in range(0, 8, 2)))
    return out


def service_inspect() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(run("docker", "service", "inspect", SERVICE))[0]
    return doc


def swarm_state() -> str:
    return run("docker", "info", "-f", "{{.Swarm.LocalNodeState}}").strip()


def service_exists() -> bool:
    done = subprocess.run(
        ["docker", "service", "inspect", SERVICE], capture_output=True, check=False
    )
    return done.returncode == 0
