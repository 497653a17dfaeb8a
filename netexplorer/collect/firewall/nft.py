"""Read the iptables-nft backend: ``iptables-nft-save -c`` / ``ip6tables-nft-save -c``.

One subprocess per address family, parsed by :mod:`.iptables_save`. Missing
tables simply give no rules.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor

from netexplorer.collect.errors import SourceError
from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.collect.firewall.tool import run_listing
from netexplorer.model import NFT, Chain, Rule

BACKEND = NFT
FAMILIES = ("ipv4", "ipv6")
SAVE_COMMANDS = {"ipv4": "iptables-nft-save", "ipv6": "ip6tables-nft-save"}
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def read_nft(
    families: tuple[str, ...] = FAMILIES,
) -> tuple[list[Rule], list[Chain], list[str]]:
    """Rules, chains and problems (in words) of the nft backend; SourceError if unreadable."""
    rules: list[Rule] = []
    chains: list[Chain] = []
    problems: list[str] = []
    # one save tool per family, both running at once
    with ThreadPoolExecutor(max_workers=max(1, len(families))) as pool:
        texts = list(pool.map(nft_save_text, families))
    for family, text in zip(families, texts, strict=True):
        r, c, p = parse_nft_save(text, family)
        rules += r
        chains += c
        problems += p
    return rules, chains, problems


def parse_nft_save(
    text: str, family: str, netns: str | None = None
) -> tuple[list[Rule], list[Chain], list[str]]:
    """One ``iptables-nft-save -c`` text (of ``family``, read in ``netns``; None: the
    host's): its rules, chains and problems, with the save tool's own word that a
    table holds rules it cannot show (``# Table ... is incompatible``)."""
    rules, chains, problems = parse_iptables_save_with_problems(text, BACKEND, family, netns)
    where = f"{BACKEND} {family}" if netns is None else f"{BACKEND} {family} in {netns}"
    problems += [
        f"{where}: {line.lstrip('# ')}"
        for line in text.splitlines()
        if line.startswith("#") and "incompatible" in line
    ]
    return rules, chains, problems


def find_binary(name: str) -> str:
    """Path of ``name`` on PATH or in the sbin directories, or SourceError."""
    path = shutil.which(name)
    if path is None:
        path = shutil.which(name, path=os.pathsep.join(_SBIN))
    if path is None:
        raise SourceError(
            f"Cannot read iptables-nft rules: {name} was not found; "
            "install the Debian package 'iptables' (apt-get install iptables)."
        )
    return path


def nft_save_text(family: str) -> str:
    """The stdout of ``iptables-nft-save -c`` (or ip6tables-) for ``family``."""
    binary = find_binary(SAVE_COMMANDS[family])
    if os.geteuid() != 0:
        raise SourceError(
            "Reading firewall rules needs root (CAP_NET_ADMIN); run netexplorer with sudo."
        )
    return run_listing(binary, "-c", rules="firewall")
