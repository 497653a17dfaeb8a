"""Record real ``nft`` output of the docker-bridges fixture, loaded in scratch netns.

Run as root:  python tests/recorded/nft-native/record.py
For each case a fresh netns ``nxnf-rec-<hex>`` is made (lo up, a veth with
10.99.0.1/24, here also 2001:db8:99::1/64), the input ruleset is loaded (``nft -f
docker-bridges.nft``, and for the second case first ``iptables-nft-restore`` of the
recorded Docker host ruleset), a little local IPv4 and IPv6 traffic moves some
counters, then ``nft -j list ruleset`` and ``nft -a list ruleset`` are written next
to this file. The netns is deleted afterwards. The host's own ruleset is never
touched.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/: the scratch netns helpers

from integration.scratch_netns import LOCAL_TRAFFIC, scratch_netns, sh  # noqa: E402

IPTABLES_NFT = HERE.parent / "firewall" / "host-iptables-nft-save-c.txt"
#: a local IPv6 address (documentation prefix) on the veth, so that ip6 nat-OUTPUT
#: sees traffic: 3 UDP datagrams to it and a TCP connect to its port 28080 (the
#: fixture's IPv6 DNAT port)
ADDR6 = "2001:db8:99::1"
LOCAL_TRAFFIC6 = (
    "import socket\n"
    "for _ in range(3):\n"
    f"    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b'x', ('{ADDR6}', 9))\n"
    "s = socket.socket(socket.AF_INET6)\n"
    "s.settimeout(0.5)\n"
    "try:\n"
    f"    s.connect(('{ADDR6}', 28080))\n"
    "except OSError:\n"
    "    pass\n"
)


def record(out: str, with_iptables_nft: bool) -> None:
    with scratch_netns("nxnf-rec") as ns:
        if with_iptables_nft:
            sh(ns, "iptables-nft-restore", stdin=IPTABLES_NFT.read_text())
        sh(ns, "ip", "-6", "addr", "add", f"{ADDR6}/64", "dev", "nxv0", "nodad")
        sh(ns, "nft", "-f", str(HERE / "docker-bridges.nft"))
        sh(ns, sys.executable, "-c", LOCAL_TRAFFIC)
        sh(ns, sys.executable, "-c", LOCAL_TRAFFIC6)
        time.sleep(0.5)
        (HERE / f"{out}.json").write_text(sh(ns, "nft", "-j", "list", "ruleset"))
        (HERE / f"{out}.txt").write_text(sh(ns, "nft", "-a", "list", "ruleset"))


def main() -> None:
    record("netns-docker-bridges", with_iptables_nft=False)
    record("netns-docker-bridges-and-iptables-nft", with_iptables_nft=True)


if __name__ == "__main__":
    main()
