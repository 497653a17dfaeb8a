"""Read native nftables rules: Docker's ``docker-bridges`` tables and other nft tables.

Docker >= 29 with ``--firewall-backend=nftables`` writes no iptables rules. It owns
the tables ``ip docker-bridges`` and ``ip6 docker-bridges``: base chains
(``filter-FORWARD``, ``nat-PREROUTING`` ...) whose only rules dispatch through
verdict maps keyed by interface name (``oifname vmap @filter-forward-in-jumps``,
element ``"docker0" : jump filter-forward-in__docker0``) to per-bridge chains.

One ``nft -j list ruleset`` gives the structure (tables, chains, rules with their
expressions, maps); where it holds rules read here, one ``nft -a list ruleset``
then gives each rule's text exactly as nft prints it, matched to the JSON by
table, chain and handle. A rule missing from
the text listing (the ruleset changed between the two reads) gets its text
rendered here from the JSON instead. The counter's values are cut out of the text
(they are in ``packets``/``bytes``) so that a rule's id survives its counters
moving, as with ``iptables-save -c``.

This module runs ``nft`` and decides whether Docker uses its nftables backend;
:mod:`netexplorer.collect.firewall.nft_parse` turns the listings into rules and
chains, :mod:`netexplorer.collect.firewall.nft_render` writes a rule's nft text
from its JSON when the text listing lacks it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from netexplorer.collect.errors import SourceError
from netexplorer.collect.firewall.nft_parse import Triple, parse_ruleset, rules_to_list
from netexplorer.collect.firewall.tool import run_listing

_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
DAEMON_JSON = Path("/etc/docker/daemon.json")


# --------------------------------------------------------------------------- reading
def read_nft_native() -> Triple:
    """Rules, chains and problems of the native nftables tables; SourceError if unreadable.

    No ``nft`` binary is not an error (nothing to read) unless Docker is configured
    for its nftables backend.
    """
    binary = find_nft()
    if binary is None:
        if docker_uses_nftables():
            raise SourceError(
                "Docker is configured with firewall-backend nftables, but the nft command "
                "was not found, so its rules cannot be read; install the Debian package "
                "'nftables' (apt-get install nftables)."
            )
        return [], [], []
    if os.geteuid() != 0:
        raise SourceError(
            "Reading nftables rules needs root (CAP_NET_ADMIN); run netexplorer with sudo."
        )
    doc = json.loads(run_nft(binary, "-j", "list", "ruleset") or '{"nftables": []}')
    # the text listing (each rule's text by handle) only where a rule is read: not
    # for a ruleset of iptables-nft's tables alone
    listing = run_nft(binary, "-a", "list", "ruleset") if rules_to_list(doc) else None
    return parse_ruleset(doc, listing)


def find_nft() -> str | None:
    return shutil.which("nft") or shutil.which("nft", path=os.pathsep.join(_SBIN))


def run_nft(binary: str, *args: str) -> str:
    return run_listing(binary, *args, rules="nftables")


def docker_uses_nftables(daemon_json: Path = DAEMON_JSON, proc: Path = Path("/proc")) -> bool:
    """Is dockerd configured for its nftables backend (daemon.json or command line)?"""
    try:
        conf = json.loads(daemon_json.read_text())
        if isinstance(conf, dict) and conf.get("firewall-backend") == "nftables":
            return True
    except (OSError, ValueError):
        pass
    try:
        pids = [p for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return False
    for pid in pids:
        try:
            if (pid / "comm").read_text().strip() != "dockerd":
                continue
            args = (pid / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(args):
            if arg == "--firewall-backend=nftables":
                return True
            if arg == "--firewall-backend" and args[i + 1 : i + 2] == ["nftables"]:
                return True
    return False
