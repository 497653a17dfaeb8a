"""The firewall as the checks read it: which backends Docker maintains, and the rules of a
read grouped by chain and walked from each base chain (iptables jumps; Docker's native
nftables per-bridge chains through their verdict maps)."""

from __future__ import annotations

from collections.abc import Iterator

from netexplorer.correlate import (
    IPNetwork,
    iface_matches,
    parse_network,
    table_kind,
)
from netexplorer.doctor.common import bridge_networks
from netexplorer.model import (
    DOCKER_NFT_TABLE,
    NFTABLES,
    SNAT_TARGETS,
    Chain,
    Rule,
    Snapshot,
    is_docker_chain,
)


def docker_tables(snap: Snapshot) -> set[tuple[str, str, str]]:
    """(backend, family, table) that hold one of Docker's chains.

    For the native nftables backend the table is the kind of a chain of
    ``docker-bridges`` (``nat`` for nat-POSTROUTING, ``filter`` for filter-FORWARD).
    """
    out = {(c.backend, c.family, c.table) for c in snap.chains if is_docker_chain(c.name)}
    out |= {
        (c.backend, c.family, c.name.split("-", 1)[0])
        for c in snap.chains
        if c.backend == NFTABLES and c.table == DOCKER_NFT_TABLE
    }
    return out


def iptables_backends(snap: Snapshot) -> list[str]:
    """The iptables backends holding Docker's chains.

    Docker's native nftables backend (table docker-bridges) is not one of them: it
    is not one of "both backends", so a leftover DOCKER-USER chain beside it is no
    conflict. forward-drop, masquerade and dnat read it too (:func:`rule_backends`).
    """
    return [b for b in snap.firewall_backends if b.startswith("iptables-")]


def live_backends(snap: Snapshot) -> list[str]:
    """The backend(s) dockerd maintains now.

    One backend with Docker's chains: that one. Both (stale rules after switching
    the iptables alternative): the one whose rules name more of the bridges that
    exist now, since the stale set lacks what was created after the switch; both
    if they tie.
    """
    backends = iptables_backends(snap)
    if len(backends) <= 1:
        return backends
    current = {n.bridge for n in bridge_networks(snap) if n.bridge}
    named: dict[str, set[str]] = {b: set() for b in backends}
    for r in snap.rules:
        if r.backend in named:
            named[r.backend] |= {
                i for i in (r.in_interface, r.out_interface) if i is not None and i in current
            }
    score = {b: len(named[b]) for b in backends}
    best = max(score.values())
    return [b for b in backends if score[b] == best]


def rule_backends(snap: Snapshot) -> list[str]:
    """The backends whose rules the forward-drop, masquerade and dnat checks read:
    :func:`live_backends`, and Docker's native nftables backend when it is listed
    (its rules are in table docker-bridges, read through :meth:`Tables.hook`)."""
    return live_backends(snap) + [b for b in snap.firewall_backends if b == NFTABLES]


class Tables:
    """Rules of one snapshot grouped by (backend, family, table, chain)."""

    def __init__(self, snap: Snapshot) -> None:
        self.chains: dict[tuple[str, str, str, str], Chain] = {
            (c.backend, c.family, c.table, c.name): c for c in snap.chains
        }
        self.rules: dict[tuple[str, str, str, str], list[Rule]] = {}
        for r in snap.rules:
            self.rules.setdefault((r.backend, r.family, r.table, r.chain), []).append(r)
        self._dnat: dict[tuple[str, str], dict[str, list[Rule]]] = {}
        self._hook: dict[tuple[str, str, str, str], list[Rule]] = {}
        self._snat: dict[tuple[str, str], list[tuple[IPNetwork, Rule]]] = {}
        self._touching: dict[
            tuple[str, str, str, str, frozenset[str]],
            tuple[dict[str, list[tuple[int, Rule]]], list[tuple[int, Rule]]],
        ] = {}

    def reachable(self, backend: str, family: str, table: str, start: str) -> Iterator[Rule]:
        """Rules of chain ``start`` and of every chain reachable from it by jumps."""
        seen: set[str] = set()
        todo = [start]
        while todo:
            chain = todo.pop(0)
            if chain in seen:
                continue
            seen.add(chain)
            for r in self.rules.get((backend, family, table, chain), []):
                yield r
                if (backend, family, table, r.target) in self.chains:
                    todo.append(r.target)

    def hook(self, backend: str, family: str, table: str, base: str) -> list[Rule]:
        """Rules that see the packets of iptables' built-in chain ``table``/``base``
        (see :meth:`_walk_hook`), walked once per snapshot."""
        key = (backend, family, table, base)
        if key not in self._hook:
            self._hook[key] = list(self._walk_hook(backend, family, table, base))
        return self._hook[key]

    def touching(
        self, backend: str, family: str, table: str, base: str, targets: frozenset[str], name: str
    ) -> list[Rule]:
        """Rules of :meth:`hook` with a target in ``targets`` that name interface
        ``name`` as their in, out or verdict-map interface (exactly or by an
        iptables ``+`` prefix), in hook order. Indexed once per hook and targets, so
        a lookup per bridge does not walk the hook again."""
        key = (backend, family, table, base, targets)
        if key not in self._touching:
            exact: dict[str, list[tuple[int, Rule]]] = {}
            prefixed: list[tuple[int, Rule]] = []
            for i, r in enumerate(self.hook(backend, family, table, base)):
                if r.target not in targets:
                    continue
                for pattern in {r.in_interface, r.out_interface, r.chain_interface} - {None}:
                    assert pattern is not None
                    if pattern.endswith("+"):
                        prefixed.append((i, r))
                    else:
                        exact.setdefault(pattern, []).append((i, r))
            self._touching[key] = (exact, prefixed)
        exact, prefixed = self._touching[key]
        found = dict(exact.get(name, []))
        for i, r in prefixed:
            patterns = (r.in_interface, r.out_interface, r.chain_interface)
            if any(p is not None and iface_matches(p, name) for p in patterns):
                found[i] = r
        return [found[i] for i in sorted(found)]

    def snat_sources(self, backend: str, family: str) -> list[tuple[IPNetwork, Rule]]:
        """(source network, rule) of the MASQUERADE/SNAT rules nat POSTROUTING reaches
        that name a source, in hook order; parsed once per backend and family."""
        key = (backend, family)
        if key not in self._snat:
            found = []
            for r in self.hook(backend, family, "nat", "POSTROUTING"):
                if r.target not in SNAT_TARGETS or r.source is None or r.source_negated:
                    continue
                src = parse_network(r.source)
                if src is not None:
                    found.append((src, r))
            self._snat[key] = found
        return self._snat[key]

    def _walk_hook(self, backend: str, family: str, table: str, base: str) -> Iterator[Rule]:
        """Rules that see the packets of iptables' built-in chain ``table``/``base``.

        iptables backends: :meth:`reachable` from ``base``. Docker's native
        nftables backend: every rule of table docker-bridges whose kind is
        ``table`` (chain prefix nat-/filter-, or a NAT target), in any chain. Its
        base chains reach the per-bridge chains only through verdict maps
        (``oifname vmap @filter-forward-in-jumps``), which a rule does not record
        as a jump, so walking jumps would miss them; the map key is in each
        rule's ``chain_interface``. Taking all chains of the kind also takes
        nat-OUTPUT's, which is harmless: Docker's nat-PREROUTING and nat-OUTPUT
        jump to the same nat-prerouting-and-output chain.
        """
        if backend != NFTABLES:
            yield from self.reachable(backend, family, table, base)
            return
        for (b, f, t, _), rules in self.rules.items():
            if (b, f, t) == (backend, family, DOCKER_NFT_TABLE):
                # a chain no map element leads to never runs: check_unreached_chain
                yield from (r for r in rules if table_kind(r) == table and not r.unreached)

    def dnat_by_port(self, backend: str, family: str) -> dict[str, list[Rule]]:
        """DNAT rules reachable from nat PREROUTING by ``--dport``, in rule order;
        computed once per backend and family, so a lookup per published port does
        not walk the hook again."""
        key = (backend, family)
        if key not in self._dnat:
            by_port: dict[str, list[Rule]] = {}
            for r in self.hook(backend, family, "nat", "PREROUTING"):
                if r.target == "DNAT" and r.dport is not None:
                    by_port.setdefault(r.dport, []).append(r)
            self._dnat[key] = by_port
        return self._dnat[key]

    def unreached(self, family: str, chain: str) -> bool:
        """Does Docker's native ``chain`` hold rules that no packet reaches?"""
        rules = self.rules.get((NFTABLES, family, DOCKER_NFT_TABLE, chain), [])
        return any(r.unreached for r in rules)

    def policy(self, backend: str, family: str, table: str, chain: str) -> str | None:
        c = self.chains.get((backend, family, table, chain))
        return c.policy if c is not None else None
