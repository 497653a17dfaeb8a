"""Firewall collectors: Docker's rules from both iptables backends and native nftables.

``collect_firewall()`` reads the iptables-nft backend (``iptables-nft-save -c``),
the iptables-legacy backend (x_tables through python-iptables) and native
nftables tables (``nft -j list ruleset``: Docker's ``docker-bridges`` with
``--firewall-backend=nftables``; iptables-nft's own tables are left to the
iptables-nft backend) into the same ``model.Rule``/``model.Chain`` form. Nothing
here imports Textual.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from netexplorer.collect.errors import SourceError
from netexplorer.model import DOCKER_NFT_TABLE as DOCKER_NFT_TABLE
from netexplorer.model import LEGACY as LEGACY
from netexplorer.model import NFT as NFT
from netexplorer.model import NFTABLES as NFTABLES
from netexplorer.model import Chain, Rule, is_docker_chain

#: the two iptables backends
IPTABLES_BACKENDS = (NFT, LEGACY)
#: the order backends are read and reported in
BACKENDS = (NFT, LEGACY, NFTABLES)
FAMILIES = ("ipv4", "ipv6")

Reader = Callable[[], tuple[list[Rule], list[Chain], list[str]]]


@dataclass(slots=True)
class FirewallData:
    rules: list[Rule] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    #: backends that hold Docker's chains (DOCKER or DOCKER-*; for nftables the
    #: table docker-bridges), in BACKENDS order
    backends: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: backend -> why it could not be read
    errors: dict[str, str] = field(default_factory=dict)


def holds_docker_chain(chain: Chain) -> bool:
    if chain.backend == NFTABLES:
        return chain.table == DOCKER_NFT_TABLE
    return is_docker_chain(chain.name)


def collect_firewall(readers: dict[str, Reader] | None = None) -> FirewallData:
    """Read every backend; one failing does not stop the others.

    Raises SourceError only if no backend could be read at all. ``readers``
    replaces the real backend readers (tests).
    """
    if readers is None:
        from netexplorer.collect.firewall.legacy import read_legacy
        from netexplorer.collect.firewall.nft import read_nft
        from netexplorer.collect.firewall.nft_native import read_nft_native

        readers = {NFT: read_nft, LEGACY: read_legacy, NFTABLES: read_nft_native}
    data = FirewallData()
    wanted = [b for b in BACKENDS if b in readers]
    # the readers mostly wait for their listing tools (iptables-nft-save, nft): side by side
    with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
        futures = {b: pool.submit(readers[b]) for b in wanted}
    for backend in wanted:
        try:
            rules, chains, problems = futures[backend].result()
        except SourceError as err:
            data.errors[backend] = str(err)
            continue
        data.rules += rules
        data.chains += chains
        data.warnings += problems
    if data.errors and len(data.errors) == len(readers):
        raise SourceError(" ".join(dict.fromkeys(data.errors.values())))
    data.rules.sort(key=_rule_order(data.chains))
    data.backends = [
        b for b in BACKENDS if any(c.backend == b and holds_docker_chain(c) for c in data.chains)
    ]
    if len([b for b in data.backends if b in IPTABLES_BACKENDS]) > 1:
        data.warnings.append(both_backends_warning(active_iptables_backend()))
    return data


def _rule_order(chains: list[Chain]) -> Callable[[Rule], tuple[int, int, int, int, int]]:
    """Sort key: backend, family, table and chain in save order, position."""
    tables: dict[tuple[str, str, str], int] = {}
    chain_index: dict[tuple[str, str, str, str], int] = {}
    for c in chains:
        tables.setdefault((c.backend, c.family, c.table), len(tables))
        chain_index.setdefault((c.backend, c.family, c.table, c.name), len(chain_index))

    def key(r: Rule) -> tuple[int, int, int, int, int]:
        backend = BACKENDS.index(r.backend) if r.backend in BACKENDS else len(BACKENDS)
        family = FAMILIES.index(r.family) if r.family in FAMILIES else len(FAMILIES)
        table = tables.get((r.backend, r.family, r.table), len(tables))
        chain = chain_index.get((r.backend, r.family, r.table, r.chain), len(chain_index))
        return backend, family, table, chain, r.position

    return key


def active_iptables_backend() -> str | None:
    """Which backend the ``iptables`` command on this host uses (the alternative)."""
    path = shutil.which("iptables") or shutil.which("iptables", path="/usr/sbin:/sbin")
    if path is None:
        return None
    real = os.path.basename(os.path.realpath(path))
    if "legacy" in real:
        return LEGACY
    if "nft" in real:
        return NFT
    return None


def both_backends_warning(active: str | None) -> str:
    text = (
        "Docker's chains exist in both iptables backends (iptables-nft and iptables-legacy): "
        "one set is most likely stale, left over from switching the iptables alternative "
        "(update-alternatives --config iptables) while Docker had rules."
    )
    if active is None:
        return text + " Which backend the iptables command uses could not be determined."
    stale = LEGACY if active == NFT else NFT
    return (
        f"{text} The iptables command here uses {active}, so dockerd most likely maintains "
        f"the {active} rules and the {stale} ones are stale."
    )
