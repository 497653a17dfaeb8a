"""Firewall rules of one table (nat by default, ``t`` cycles) with counters: each rule's
summary (``MASQUERADE 172.17.0.0/16 → !docker0``) and its chain, or (``f``) its full
iptables-save form, or nft's own syntax for Docker's native nftables tables. The
swarm routing mesh's rules, read inside ingress_sbox, lb_* and the service tasks,
follow the host's, each led by its namespace: ``[ingress_sbox] MARK ...``."""

from __future__ import annotations

from rich.text import Text

from netexplorer.analysis import Analysis
from netexplorer.ingress import MeshRule
from netexplorer.model import NFTABLES, Rule
from netexplorer.rule_summary import summary
from netexplorer.ui.pane_rows import PaneRows, Rows
from netexplorer.ui.panes.base import TablePane
from netexplorer.ui.safe_text import numeric, safe

#: tables in the order ``t`` visits them; others found in a snapshot follow
TABLE_ORDER = ("nat", "filter", "mangle", "raw", "security")


def where(rule: Rule) -> str:
    fam = "v6" if rule.family == "ipv6" else "v4"
    return f"{fam} legacy" if rule.backend.endswith("legacy") else fam


def delta_text(rule: Rule) -> str:
    """``+3``: packets counted since the previous poll; empty when none or unknown."""
    return f"+{rule.delta_packets}" if rule.delta_packets else ""


def counter_cells(rule: Rule) -> list[Text]:
    """The Δpkts, Pkts and Bytes cells of the rule's row."""
    return [
        safe(delta_text(rule), style="bold", empty="", justify="right"),
        numeric(rule.packets),
        numeric(rule.bytes),
    ]


def _in_namespace(owner: MeshRule | None, text: str) -> Text:
    """The rule cell: ``text``, led by the namespace it was read in (none: the host's)."""
    if owner is None:
        return safe(text)
    cell = safe(f"[{owner.owner_name}] ", style="italic")
    cell.append_text(safe(text))
    return cell


class RulesPane(TablePane):
    pane_id = "rules"
    number = 4
    title = "NAT rules"
    sources = ("firewall",)
    short = "Rules"
    columns = (
        ("rule", "Rule"),
        ("chain", "Chain"),
        ("delta", "Δpkts"),
        ("pkts", "Pkts"),
        ("bytes", "Bytes"),
        ("where", "Fam"),
        ("position", "#"),
    )
    full_only = frozenset({"bytes", "position"})
    limits = {"chain": 18}

    def __init__(self) -> None:
        super().__init__()
        #: rule key -> (what its row was made from: the rule's shape and its
        #: counters, the row)
        self._made: dict[str, tuple[tuple[object, ...], tuple[object, ...], list[Text]]] = {}
        #: the keys whose cells the last ``rows`` made anew
        self._new_cells: list[str] = []
        self.table_name = "nat"
        #: the rule column shows each rule's full text (iptables-save or nft), not
        #: its summary (``f`` toggles)
        self.full_text = False

    def heading(self) -> str:
        name = "NAT" if self.table_name == "nat" else self.table_name
        backends = ", ".join(self._snapshot.firewall_backends) if self._snapshot else ""
        return f"{self.number} {name} rules" + (f" ({backends})" if backends else "")

    def syntax(self) -> str:
        """How the rules shown are written: ``nft`` for native nftables rules."""
        shown = (
            {r.backend for r in self._snapshot.rules if r.table == self.table_name}
            if self._snapshot
            else set()
        )
        if NFTABLES not in shown:
            return "iptables-save"
        return "nft" if shown == {NFTABLES} else "iptables-save, nft"

    def show_snapshot(self, result: Analysis, made: PaneRows | None = None) -> None:
        super().show_snapshot(result, made)
        label = f"Rule ({self.syntax()})" if self.full_text else "Rule (summary; f: full text)"
        self.table.relabel("rule", label)

    def tables(self) -> list[str]:
        found = {r.table for r in self._snapshot.rules} if self._snapshot else set()
        if self._result is not None:
            found |= {m.rule.table for m in self._result.correlation.mesh.rules}
        known = [t for t in TABLE_ORDER if t in found or t in ("nat", "filter")]
        return known + sorted(found - set(known))

    def _again(self) -> None:
        if self._result is not None:
            self.show_snapshot(self._result)

    def cycle_table(self) -> str:
        tables = self.tables()
        at = tables.index(self.table_name) if self.table_name in tables else -1
        self.table_name = tables[(at + 1) % len(tables)]
        self._again()
        return self.table_name

    def toggle_full_text(self) -> bool:
        self.full_text = not self.full_text
        self._again()
        return self.full_text

    def inputs(self, result: Analysis) -> tuple[object, ...]:
        return (result.read.rules, result.correlation.mesh.rules, self.table_name,
                self.full_text)  # fmt: skip

    def prepare(self, result: Analysis) -> PaneRows:
        made = super().prepare(result)
        # remember the cells kept (an equal row keeps its older list), so that the
        # next poll hands them on as the same lists and they are not compared again
        kept = made.full
        for key in self._new_cells:
            shape, counts, cells = self._made[key]
            self._made[key] = (shape, counts, kept.get(key, cells))
        return made

    def rows(self, result: Analysis) -> Rows:
        """The shown table's rules; a rule that reads as before (a poll re-reads every
        rule, most of them unchanged) keeps its cells instead of new ones, and one
        whose counters moved gets new counter cells beside its other cells."""
        made: dict[str, tuple[tuple[object, ...], tuple[object, ...], list[Text]]] = {}
        before = self._made
        fresh: list[str] = []
        host = [(rule, None) for rule in result.read.rules]
        mesh = [(m.rule, m) for m in result.correlation.mesh.rules]
        for rule, owner in (*host, *mesh):
            if rule.table != self.table_name:
                continue
            key = rule.key
            # the namespace by its key and name (a MeshRule holds the rule, counters too)
            where_read = (owner.owner_key, owner.owner_name) if owner is not None else None
            shape = (rule.text, rule.chain, rule.position, rule.backend, rule.family,
                     self.full_text, where_read)  # fmt: skip
            counts = (rule.packets, rule.bytes, rule.delta_packets)
            old = before.get(key)
            if old is not None and old[0] == shape:
                if old[1] == counts:
                    made[key] = old
                    continue
                cells = list(old[2])
                cells[2:5] = counter_cells(rule)
            else:
                cells = [
                    _in_namespace(owner, rule.text if self.full_text else summary(rule)),
                    safe(rule.chain),
                    *counter_cells(rule),
                    safe(where(rule)),
                    numeric(rule.position),
                ]
            made[key] = (shape, counts, cells)
            fresh.append(key)
        self._made, self._new_cells = made, fresh
        return {key: cells for key, (_, _, cells) in made.items()}
