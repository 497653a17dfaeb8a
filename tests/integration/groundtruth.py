"""Ground truth about the live host, read with the standard tools only.

Nothing here imports netexplorer: these helpers are what the product's answers are
checked against (``docker``, ``ip -j``, ``bridge -j``, ``iptables-*-save``,
``/sys/class/net`` inside containers). Needs root and, for the lab facts, the lab
from ``scripts/lab up``.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LAB_SCRIPT = REPO / "scripts" / "lab"

# The lab's facts (keep in sync with scripts/lab).
IMAGE = "busybox:latest"
LAB_CONTAINERS = ("test1", "test2", "web", "db")
DEFAULT_BRIDGE = "docker0"
LAB_NETWORK = "nxlab"
LAB_SUBNET = "172.30.0.0/24"
WEB_NXLAB_IP = "172.30.0.2"
DB_NXLAB_IP = "172.30.0.3"
WEB_HOST_PORT = 8080
INET_NETNS = "nx-inet"
INET_HOST_IF = "nx-inet0"
INET_NETNS_IF = "nx-inet1"
INET_HOST_ADDR = "198.51.100.1"
INET_NETNS_ADDR = "198.51.100.2"
INET_ADDR = "203.0.113.1"

THROWAWAY_PREFIX = "nxt-"
THROWAWAY_LABEL = "netexplorer.test=throwaway"
SLEEP_LOOP = "while true; do sleep 3600; done"


NO_KERNEL_DRIVER = "this host's kernel has no driver for "


class GroundTruthError(AssertionError):
    """A ground-truth command failed (shown with its stderr)."""


def run(*argv: str, check: bool = True, stdin: str | None = None) -> str:
    """Run argv, return stdout; raise GroundTruthError on failure when check."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise GroundTruthError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


# ------------------------------------------------------------------ lab
def lab_status() -> tuple[int, str]:
    """(exit code, output) of ``scripts/lab status``; 0 means the lab is complete."""
    proc = subprocess.run([str(LAB_SCRIPT), "status"], capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def lab_command(*args: str) -> str:
    """Run ``scripts/lab ARGS`` (e.g. ``dockerd-stop``, ``up``); its output, or raise."""
    proc = subprocess.run([str(LAB_SCRIPT), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GroundTruthError(
            f"scripts/lab {' '.join(args)} -> {proc.returncode}: {proc.stdout}{proc.stderr}"
        )
    return proc.stdout + proc.stderr


def docker_answers() -> bool:
    """``docker info`` succeeds: a Docker daemon answers on the default socket."""
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


# ------------------------------------------------------------------ docker
def docker_inspect(name: str) -> dict[str, Any]:
    data: list[dict[str, Any]] = json.loads(run("docker", "inspect", name))
    return data[0]


def network_inspect(name: str) -> dict[str, Any]:
    data: list[dict[str, Any]] = json.loads(run("docker", "network", "inspect", name))
    return data[0]


def bridge_ifname(network: str) -> str:
    """Host bridge interface of a Docker bridge network (docker0 or br-<id12>)."""
    net = network_inspect(network)
    name = net.get("Options", {}).get("com.docker.network.bridge.name")
    return str(name) if name else f"br-{net['Id'][:12]}"


def container_ips(name: str) -> dict[str, str]:
    """Docker network name -> IPv4 address of the container on it."""
    nets = docker_inspect(name)["NetworkSettings"]["Networks"]
    return {net: str(ep["IPAddress"]) for net, ep in nets.items()}


def container_pid(name: str) -> int:
    return int(docker_inspect(name)["State"]["Pid"])


def _sysfs_per_interface(container: str, attr: str) -> dict[str, int]:
    script = (
        'for d in /sys/class/net/*; do n=${d##*/}; [ "$n" = lo ] && continue; '
        f'echo "$n $(cat "$d/{attr}")"; done'
    )
    out = run("docker", "exec", container, "sh", "-c", script)
    result: dict[str, int] = {}
    for line in out.splitlines():
        ifname, value = line.split()
        result[ifname] = int(value)
    return result


def ground_truth_iflink(container: str) -> dict[str, int]:
    """Container ifname -> its ``iflink``: for a veth, the host-side peer's ifindex."""
    return _sysfs_per_interface(container, "iflink")


def ground_truth_ifindex(container: str) -> dict[str, int]:
    """Container ifname -> ifindex inside the container's netns."""
    return _sysfs_per_interface(container, "ifindex")


# ------------------------------------------------------------------ host links
def host_links() -> dict[int, dict[str, Any]]:
    """Host ifindex -> the link as ``ip -j -d link show`` reports it."""
    links: list[dict[str, Any]] = json.loads(run("ip", "-j", "-d", "link", "show") or "[]")
    return {int(link["ifindex"]): link for link in links}


def host_link(ifname: str) -> dict[str, Any]:
    for link in host_links().values():
        if link["ifname"] == ifname:
            return link
    raise GroundTruthError(f"no host link {ifname}")


def bridge_ports() -> dict[str, str]:
    """Bridge port ifname -> its bridge (``bridge -j link show``)."""
    ports: list[dict[str, Any]] = json.loads(run("bridge", "-j", "link", "show") or "[]")
    return {str(p["ifname"]): str(p["master"]) for p in ports if "master" in p}


def container_link(container: str, ifname: str = "eth0") -> dict[str, Any]:
    """``ip -j -d link show IF`` run in the container's netns with the host's iproute2
    (busybox's ``ip`` has no ``-d``): kind and mode of a macvlan/ipvlan child."""
    pid = str(container_pid(container))
    out = run("nsenter", "-t", pid, "-n", "ip", "-j", "-d", "link", "show", ifname)
    (link,) = json.loads(out)
    return dict(link)


def kernel_lacks_link_kind(kind: str) -> bool:
    """True if this kernel has no driver for links of ``kind`` (e.g. ipvlan).

    Asks to create one with no parent: a kernel with the driver refuses the request
    ("Invalid argument"), one without says "Unknown device type". Nothing is made.
    """
    proc = subprocess.run(
        ["ip", "link", "add", f"{THROWAWAY_PREFIX}probe", "type", kind],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == 0:  # pragma: no cover - a kind that needs no parent
        run("ip", "link", "del", f"{THROWAWAY_PREFIX}probe", check=False)
        return False
    return "Unknown device type" in proc.stderr


def skip_no_kernel_driver(kind: str) -> None:
    """Skip a ``kernel``-marked test because this kernel lacks ``kind`` links
    (tests/conftest.py lets that skip through unless NETEXPLORER_REQUIRE_KERNEL=1)."""
    pytest.skip(
        f"{NO_KERNEL_DRIVER}{kind} links; scripts/kernel-vm test runs this on Debian's kernel"
    )


def host_veth_of(container: str, ifname: str = "eth0") -> dict[str, Any]:
    """The host link that is the peer of ``container``'s ``ifname``."""
    iflink = ground_truth_iflink(container)[ifname]
    return host_links()[iflink]


# ------------------------------------------------------------------ iptables
def iptables_save(backend: str, table: str | None = None, family: str = "ipv4") -> str:
    """Text of ``ip{,6}tables-<backend>-save [-t table]`` (backend: nft or legacy)."""
    if backend not in ("nft", "legacy"):
        raise ValueError(f"backend must be nft or legacy, not {backend!r}")
    prog = {"ipv4": "iptables", "ipv6": "ip6tables"}[family]
    argv = [f"{prog}-{backend}-save"]
    if table:
        argv += ["-t", table]
    return run(*argv)


def active_iptables_mode() -> str:
    """Backend the ``iptables`` command selects now (update-alternatives): nft or legacy."""
    target = Path("/usr/sbin/iptables").resolve().name
    return "legacy" if "legacy" in target else "nft"


def docker_chains(backend: str) -> set[str]:
    """Names of DOCKER* chains in the backend's nat and filter tables."""
    chains: set[str] = set()
    for table in ("nat", "filter"):
        for line in iptables_save(backend, table).splitlines():
            if line.startswith(":DOCKER"):
                chains.add(line[1:].split()[0])
    return chains


# ------------------------------------------------------------------ the "internet"
def netns_exec(netns: str, *argv: str) -> str:
    return run("ip", "netns", "exec", netns, *argv)


def route_get(address: str) -> dict[str, Any]:
    routes: list[dict[str, Any]] = json.loads(run("ip", "-j", "route", "get", address))
    return routes[0]


# ------------------------------------------------------------------ throwaway containers
def new_throwaway_name() -> str:
    return f"{THROWAWAY_PREFIX}{uuid.uuid4().hex[:8]}"


def create_container(
    name: str,
    networks: Sequence[str] = ("bridge",),
    extra_args: Iterable[str] = (),
    command: Sequence[str] = ("/bin/sh", "-c", SLEEP_LOOP),
) -> str:
    """Start a busybox container on ``networks`` (first at run, others connected)."""
    first, *rest = networks
    argv = ["docker", "run", "-d", "--pull", "never", "--label", THROWAWAY_LABEL, "--name", name]
    run(*argv, "--network", first, *extra_args, IMAGE, *command)
    for net in rest:
        run("docker", "network", "connect", net, name)
    return name


def remove_container(name: str) -> None:
    run("docker", "rm", "-f", name, check=False)
