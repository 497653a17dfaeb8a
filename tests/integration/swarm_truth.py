"""Ground truth of the lab's two-node swarm (``scripts/lab swarm up``), read without
netexplorer: ``ip -d -j link``, ``ip -j addr``, ``ip -j neigh`` and ``bridge -j fdb
show`` inside each overlay namespace (entered with ``nsenter --net=FILE``), and
``docker network inspect``.

Node 1 is the lab's dockerd; node 2 a dockerd in netns ``nx-swarm2`` with its
namespaces under its own exec-root. Also used by tests/recorded/swarm/record.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

NODE2_NETNS = "/run/netns/nx-swarm2"
NODE2_SOCK = "unix:///run/nx-swarm2/docker.sock"
NODE1_NETNS_DIR = "/var/run/docker/netns"
NODE2_NETNS_DIR = "/run/nx-swarm2/exec/netns"
OVERLAY = "nxoverlay"
NODE1_ADDR = "198.51.100.17"
NODE2_ADDR = "198.51.100.18"
C1, C1_IP = "sw1", "10.200.0.11"
C2, C2_IP = "sw2", "10.200.0.12"
REPO = Path(__file__).resolve().parents[2]


def run(*cmd: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        cmd, check=True, capture_output=True, text=True, env=env, timeout=120
    ).stdout


def node_env(node: int) -> dict[str, str]:
    """The environment netexplorer and docker read node ``node`` with."""
    env = dict(os.environ)
    if node == 2:
        env["DOCKER_HOST"] = NODE2_SOCK
        env["NETEXPLORER_DOCKER_NETNS_DIR"] = NODE2_NETNS_DIR
    return env


def node_prefix(node: int) -> list[str]:
    """Run a command in node ``node``'s network namespace (node 1: the host's)."""
    return [] if node == 1 else ["nsenter", f"--net={NODE2_NETNS}"]


def docker(node: int, *args: str) -> str:
    return run("docker", *args, env=node_env(node))


def netns_dir(node: int) -> str:
    return NODE1_NETNS_DIR if node == 1 else NODE2_NETNS_DIR


def overlay_namespace(node: int, network_id: str) -> str:
    return os.path.join(netns_dir(node), "1-" + network_id[:10])


def in_ns(path: str, *cmd: str) -> Any:
    return json.loads(run("nsenter", f"--net={path}", *cmd) or "[]")


def namespace_truth(path: str) -> dict[str, Any]:
    return {
        "ip_link": in_ns(path, "ip", "-d", "-j", "link", "show"),
        "ip_addr": in_ns(path, "ip", "-j", "addr", "show"),
        "fdb": in_ns(path, "bridge", "-j", "fdb", "show"),
        "neigh": in_ns(path, "ip", "-j", "neigh", "show"),
    }


def node_truth(node: int) -> dict[str, Any]:
    """Per overlay network: inspect, and its namespace's links, addresses and FDB."""
    nets = json.loads(
        docker(
            node,
            "network",
            "inspect",
            *docker(node, "network", "ls", "-q", "-f", "driver=overlay").split(),
        )
    )
    out: dict[str, Any] = {
        "networks": {},
        "host_links": json.loads(run(*node_prefix(node), "ip", "-j", "addr", "show")),
    }
    for net in nets:
        path = overlay_namespace(node, net["Id"])
        entry: dict[str, Any] = {"inspect": net, "namespace": os.path.basename(path)}
        if os.path.exists(path):
            entry.update(namespace_truth(path))
        out["networks"][net["Name"]] = entry
    return out


def container_pid(node: int, name: str) -> int:
    return int(docker(node, "inspect", "-f", "{{.State.Pid}}", name))


def container_eth(node: int, name: str, ifname: str = "eth0") -> dict[str, Any]:
    """``ip -d -j link show IF`` inside a container (its iflink is the overlay veth)."""
    pid = container_pid(node, name)
    links: list[dict[str, Any]] = json.loads(
        run("nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-d", "-j", "link", "show", ifname)
    )
    return links[0]


def snapshot_json(node: int) -> str:
    """``netexplorer snapshot --json`` run on node ``node``."""
    import sys

    return run(
        *node_prefix(node),
        sys.executable,
        "-m",
        "netexplorer",
        "snapshot",
        "--json",
        env=node_env(node),
    )
