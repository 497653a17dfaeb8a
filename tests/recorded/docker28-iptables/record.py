"""Record real ``ip{,6}tables-{nft,legacy}-save -c`` output of the Docker 28 fixture.

Run as root:  PYTHONPATH=. python tests/recorded/docker28-iptables/record.py
For each ruleset (``docker28``: Docker 28's later layout in both families;
``docker28.0``: the 28.0.1 layout with the isolation chains, IPv4 only) and each
iptables backend a fresh netns ``nx28-rec-<hex>`` is made (lo up, a veth with
10.99.0.1/24, here also 2001:db8:99::1/64), the hand-written rulesets
``<ruleset>-ipv4.rules`` (and ``-ipv6.rules``) are loaded with
``ip{,6}tables-<backend>-restore``, a little local IPv4 and IPv6 traffic moves
some counters (nat OUTPUT, the DNAT rules for ports 8080 and 28080), then
``ip{,6}tables-<backend>-save -c`` is written next to this file as
``netns-<ruleset>-ip{,6}tables-<backend>-save-c.txt``. The netns is deleted
afterwards, also on failure. The host's own ruleset is never touched.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/: the scratch netns helpers

from integration.scratch_netns import (  # noqa: E402
    IPTABLES,
    add_addr6,
    move_counters,
    save,
    save_rules,
    scratch_netns,
    settle,
    sh,
)

BACKENDS = ("nft", "legacy")
#: ruleset -> the families it has an input file for (``<ruleset>-<family>.rules``)
RULESETS = {"docker28": ("ipv4", "ipv6"), "docker28.0": ("ipv4",)}


def input_file(ruleset: str, family: str) -> Path:
    """The hand-written input: ``docker28-ipv4.rules`` ..."""
    return HERE / f"{ruleset}-{family}.rules"


def output_file(ruleset: str, backend: str, family: str) -> Path:
    """The recorded output: ``netns-docker28-ip6tables-legacy-save-c.txt`` ..."""
    return HERE / f"netns-{ruleset}-{IPTABLES[family]}-{backend}-save-c.txt"


def load(ns: str, ruleset: str, backend: str) -> None:
    """The ruleset's families into ``ns`` with ``backend``'s restore tool."""
    for family in RULESETS[ruleset]:
        rules = input_file(ruleset, family).read_text()
        sh(ns, f"{IPTABLES[family]}-{backend}-restore", stdin=rules)


def record(ruleset: str, backend: str) -> None:
    with scratch_netns("nx28-rec") as ns:
        add_addr6(ns)
        load(ns, ruleset, backend)
        move_counters(ns, six=True)
        families = RULESETS[ruleset]
        settle(lambda: [save_rules(save(ns, backend, f)) for f in families])
        for family in families:
            output_file(ruleset, backend, family).write_text(save(ns, backend, family))


def main() -> None:
    for ruleset in RULESETS:
        for backend in BACKENDS:
            record(ruleset, backend)


if __name__ == "__main__":
    main()
