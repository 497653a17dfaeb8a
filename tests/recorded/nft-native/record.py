"""Record real ``nft`` output of the docker-bridges fixture, loaded in scratch netns.

Run as root:  python tests/recorded/nft-native/record.py
For each case a fresh netns ``nxnf-rec-<hex>`` is made (lo up, a veth with
10.99.0.1/24), the input ruleset is loaded (``nft -f docker-bridges.nft``, and for
the second case first ``iptables-nft-restore`` of the recorded Docker host
ruleset), a little local traffic moves some counters, then ``nft -j list ruleset``
and ``nft -a list ruleset`` are written next to this file. The netns is deleted
afterwards. The host's own ruleset is never touched.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
IPTABLES_NFT = HERE.parent / "firewall" / "host-iptables-nft-save-c.txt"

#: local traffic: UDP to a local non-loopback address (nat-OUTPUT counts it) and a
#: TCP connect to port 8080 there (DNATed to 172.17.0.4:80, which has no route)
TRAFFIC = (
    "import socket\n"
    "for _ in range(3):\n"
    "    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x' * 10, ('10.99.0.1', 9))\n"
    "s = socket.socket()\n"
    "s.settimeout(0.5)\n"
    "try:\n"
    "    s.connect(('10.99.0.1', 8080))\n"
    "except OSError:\n"
    "    pass\n"
)


def sh(ns: str, *cmd: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, *cmd], input=stdin, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{cmd} failed: {done.stderr}")
    return done.stdout


def make_netns() -> str:
    name = f"nxnf-rec-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    sh(name, "ip", "link", "set", "lo", "up")
    sh(name, "ip", "link", "add", "nxv0", "type", "veth", "peer", "name", "nxv1")
    sh(name, "ip", "addr", "add", "10.99.0.1/24", "dev", "nxv0")
    sh(name, "ip", "link", "set", "nxv0", "up")
    sh(name, "ip", "link", "set", "nxv1", "up")
    return name


def record(out: str, with_iptables_nft: bool) -> None:
    ns = make_netns()
    try:
        if with_iptables_nft:
            sh(ns, "iptables-nft-restore", stdin=IPTABLES_NFT.read_text())
        sh(ns, "nft", "-f", str(HERE / "docker-bridges.nft"))
        sh(ns, sys.executable, "-c", TRAFFIC)
        time.sleep(0.5)
        (HERE / f"{out}.json").write_text(sh(ns, "nft", "-j", "list", "ruleset"))
        (HERE / f"{out}.txt").write_text(sh(ns, "nft", "-a", "list", "ruleset"))
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def main() -> None:
    record("netns-docker-bridges", with_iptables_nft=False)
    record("netns-docker-bridges-and-iptables-nft", with_iptables_nft=True)


if __name__ == "__main__":
    main()
