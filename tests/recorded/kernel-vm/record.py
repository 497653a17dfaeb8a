"""Record macvlan and ipvlan (l2, l3) endpoints on a kernel that has ipvlan.

This project's sandbox kernel has no ipvlan driver, so this runs on Debian 12's own
kernel in the VM of scripts/kernel-vm, as root, with the lab up there:

    scripts/kernel-vm run -- python tests/recorded/kernel-vm/record.py

It makes one veth pair per network (the parents), the networks ``nxr-macvlan``,
``nxr-ipvlan`` and ``nxr-ipvlan-l3`` and one busybox container on each, then writes
``children.snapshot.json`` (``netexplorer snapshot --json``) and
``children.truth.json``, read at the same moment without netexplorer: per container
its network, what ``docker inspect`` says of the endpoint, its eth0 as ``ip -j -d
link`` shows it inside its netns (via nsenter), and the host's ``ip -j -d link``.
Everything it made is removed again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

#: network -> (driver, mode option or None, subnet)
CHILDREN = {
    "nxr-macvlan": ("macvlan", None, "10.99.77.0/24"),
    "nxr-ipvlan": ("ipvlan", None, "10.99.78.0/24"),
    "nxr-ipvlan-l3": ("ipvlan", "l3", "10.99.79.0/24"),
}
IMAGE = "busybox:latest"


def run(*cmd: str, check: bool = True) -> str:
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


def container_eth0(name: str) -> dict[str, Any]:
    pid = run("docker", "inspect", "-f", "{{.State.Pid}}", name).strip()
    (link,) = json.loads(run("nsenter", "-t", pid, "-n", "ip", "-j", "-d", "link", "show", "eth0"))
    return dict(link)


def main() -> None:
    here = Path(__file__).parent
    made: list[tuple[str, str]] = []
    try:
        for i, (net, (driver, mode, subnet)) in enumerate(CHILDREN.items()):
            parent = f"nxr-p{i}"
            run("ip", "link", "add", parent, "type", "veth", "peer", "name", f"nxr-q{i}")
            made.append(("link", parent))
            run("ip", "link", "set", parent, "up")
            run("ip", "link", "set", f"nxr-q{i}", "up")
            opts = ["-o", f"{driver}_mode={mode}"] if mode else []
            run("docker", "network", "create", "-d", driver, "-o", f"parent={parent}", *opts,
                "--subnet", subnet, net)  # fmt: skip
            made.append(("network", net))
            name = f"{net}1"
            run("docker", "run", "-d", "--pull", "never", "--name", name, "--network", net,
                IMAGE, "sleep", "3600")  # fmt: skip
            made.append(("container", name))
        snap_text = run(sys.executable, "-m", "netexplorer", "snapshot", "--json")
        truth: dict[str, Any] = {"containers": {}}
        for net in CHILDREN:
            name = f"{net}1"
            inspect = json.loads(run("docker", "inspect", name))[0]
            truth["containers"][name] = {
                "network": net,
                "docker_endpoint": inspect["NetworkSettings"]["Networks"][net],
                "eth0": container_eth0(name),
            }
        truth["ip_link"] = json.loads(run("ip", "-j", "-d", "link", "show"))
        truth["kernel"] = run("uname", "-r").strip()
        truth["docker"] = run("docker", "version", "-f", "{{.Server.Version}}").strip()
        (here / "children.snapshot.json").write_text(snap_text)
        (here / "children.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    finally:
        for kind, name in reversed(made):
            if kind == "container":
                run("docker", "rm", "-f", name, check=False)
            elif kind == "network":
                run("docker", "network", "rm", name, check=False)
            else:
                run("ip", "link", "del", name, check=False)


if __name__ == "__main__":
    main()
