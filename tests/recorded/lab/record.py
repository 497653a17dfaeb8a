"""Record a lab snapshot together with ground truth taken independently of netexplorer.

Run as root on the lab (scripts/lab up):  python tests/recorded/lab/record.py NAME
Writes NAME.snapshot.json (``netexplorer snapshot --json``) and NAME.truth.json:
for each running container the iflink of each of its interfaces (``docker exec C
cat /sys/class/net/IF/iflink``), ``bridge -j link``, ``ip -j link`` and the
``iptables-save`` text of the backend Docker uses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def container_iflinks(name: str) -> dict[str, int]:
    script = (
        "for i in /sys/class/net/*; do n=${i##*/}; "
        '[ "$n" = lo ] || echo "$n $(cat $i/iflink)"; done'
    )
    out = run("docker", "exec", name, "sh", "-c", script)
    return {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if line.strip()}


def main() -> None:
    name = sys.argv[1]
    here = Path(__file__).parent
    snap_text = run(sys.executable, "-m", "netexplorer", "snapshot", "--json")
    names = run("docker", "ps", "--format", "{{.Names}}").split()
    iptables = Path(run("readlink", "-f", "/usr/sbin/iptables").strip()).name
    backend = "iptables-legacy" if "legacy" in iptables else "iptables-nft"
    save = "iptables-legacy-save" if backend == "iptables-legacy" else "iptables-nft-save"
    truth = {
        "backend": backend,
        "iflinks": {n: container_iflinks(n) for n in sorted(names)},
        "bridge_link": json.loads(run("bridge", "-j", "link")),
        "ip_link": json.loads(run("ip", "-j", "link")),
        "iptables_save": run(save, "-c"),
    }
    (here / f"{name}.snapshot.json").write_text(snap_text)
    (here / f"{name}.truth.json").write_text(json.dumps(truth, indent=1) + "\n")


if __name__ == "__main__":
    main()
