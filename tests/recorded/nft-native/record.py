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
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/: the scratch netns helpers

from integration.scratch_netns import (  # noqa: E402
    add_addr6,
    move_counters,
    scratch_netns,
    settle,
    sh,
)

IPTABLES_NFT = HERE.parent / "firewall" / "host-iptables-nft-save-c.txt"


def record(out: str, with_iptables_nft: bool) -> None:
    with scratch_netns("nxnf-rec") as ns:
        if with_iptables_nft:
            sh(ns, "iptables-nft-restore", stdin=IPTABLES_NFT.read_text())
        add_addr6(ns)
        sh(ns, "nft", "-f", str(HERE / "docker-bridges.nft"))
        move_counters(ns, six=True)
        settle(lambda: sh(ns, "nft", "-j", "list", "ruleset"))
        (HERE / f"{out}.json").write_text(sh(ns, "nft", "-j", "list", "ruleset"))
        (HERE / f"{out}.txt").write_text(sh(ns, "nft", "-a", "list", "ruleset"))


def main() -> None:
    record("netns-docker-bridges", with_iptables_nft=False)
    record("netns-docker-bridges-and-iptables-nft", with_iptables_nft=True)


if __name__ == "__main__":
    main()
