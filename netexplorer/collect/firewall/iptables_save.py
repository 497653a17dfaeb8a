"""Parse the text of ``iptables-save`` (with or without ``-c``) into the model.

The same parser serves both backends: the nft backend is read by running
``iptables-nft-save -c``, and the legacy reader produces the same text form.

Problems never raise: a line that cannot be understood is skipped and described
in the returned ``problems`` list (see :func:`parse_iptables_save_with_problems`),
which the caller turns into warnings. :func:`parse_iptables_save` is the plain
two-value form and logs the problems instead.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections import Counter
from dataclasses import dataclass

from netexplorer.model import Chain, Rule, rule_id

log = logging.getLogger(__name__)

_COUNTERS = re.compile(r"^\[(\d+):(\d+)\]\s*")
_CHAIN = re.compile(r"^:(\S+)\s+(\S+)(?:\s+\[(\d+):(\d+)\])?\s*$")

#: rule-level options that take one value, mapped to the model field they fill
_ADDRESS_OPTIONS = {
    "-s": "source",
    "--source": "source",
    "--src": "source",
    "-d": "destination",
    "--destination": "destination",
    "--dst": "destination",
    "-i": "in",
    "--in-interface": "in",
    "-o": "out",
    "--out-interface": "out",
    "-p": "protocol",
    "--protocol": "protocol",
}
_DPORT = {"--dport", "--destination-port", "--dports", "--destination-ports"}
_SPORT = {"--sport", "--source-port", "--sports", "--source-ports"}


def parse_iptables_save(text: str, backend: str, family: str) -> tuple[list[Rule], list[Chain]]:
    """Rules and chains of an ``iptables-save`` text; problems are logged, not raised."""
    rules, chains, problems = parse_iptables_save_with_problems(text, backend, family)
    for problem in problems:
        log.warning("%s", problem)
    return rules, chains


def parse_iptables_save_with_problems(
    text: str, backend: str, family: str, netns: str | None = None
) -> tuple[list[Rule], list[Chain], list[str]]:
    """Like :func:`parse_iptables_save`, also returning the problems in words.

    Rules come in save order; ``position`` is 1-based within (table, chain) and
    ``id`` counts identical texts within one chain (see ``model.rule_id``).
    ``netns`` names the network namespace the text was saved in (None: the
    host's); it is set on every rule and chain and is part of the rules' ids.
    """
    rules: list[Rule] = []
    chains: list[Chain] = []
    problems: list[str] = []
    table: str | None = None
    positions: Counter[tuple[str, str]] = Counter()
    occurrences: Counter[tuple[str, str, str]] = Counter()

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        where = f"{backend} {family} line {lineno}"
        if netns is not None:
            where = f"{where} (in namespace {netns})"
        if line.startswith("*"):
            table = line[1:].strip() or None
            continue
        if table is None:
            problems.append(f"{where}: skipped, no '*table' line before it: {line!r}")
            continue
        if line.startswith(":"):
            chain = _parse_chain(line, backend, family, table)
            if chain is None:
                problems.append(f"{where}: skipped malformed chain line {line!r}")
            else:
                chain.netns = netns
                chains.append(chain)
            continue
        packets = nbytes = 0
        m = _COUNTERS.match(line)
        if m:
            packets, nbytes = int(m.group(1)), int(m.group(2))
            line = line[m.end() :]
        try:
            rule = parse_rule(line, backend, family, table)
        except ValueError as err:
            problems.append(f"{where}: skipped, {err}: {line!r}")
            continue
        rule.packets, rule.bytes = packets, nbytes
        rule.netns = netns
        positions[(table, rule.chain)] += 1
        rule.position = positions[(table, rule.chain)]
        occurrences[(table, rule.chain, rule.text)] += 1
        occurrence = occurrences[(table, rule.chain, rule.text)]
        rule.id = rule_id(backend, family, table, rule.chain, rule.text, occurrence, netns)
        rules.append(rule)
    return rules, chains, problems


def _parse_chain(line: str, backend: str, family: str, table: str) -> Chain | None:
    m = _CHAIN.match(line)
    if not m:
        return None
    name, policy, packets, nbytes = m.groups()
    return Chain(
        backend=backend,
        family=family,
        table=table,
        name=name,
        policy=None if policy == "-" else policy,
        packets=int(packets or 0),
        bytes=int(nbytes or 0),
    )


def _rule_tokens(text: str) -> list[str]:
    """The words of one ``-A CHAIN ...`` line, as the shell splits them.
    Raises ValueError if the line is not a rule."""
    try:
        tokens = shlex.split(text)
    except ValueError as err:
        raise ValueError(f"unbalanced quoting ({err})") from None
    if len(tokens) < 2 or tokens[0] not in ("-A", "--append"):
        raise ValueError("not an '-A CHAIN' rule")
    return tokens


def parse_rule(text: str, backend: str, family: str, table: str) -> Rule:
    """One ``-A CHAIN ...`` line (no counter prefix) into a Rule.

    Position, counters and id are left for the caller. Options this parser does
    not know stay in ``text`` only. A negated port is kept as ``"!80"``.
    Raises ValueError if the line is not a rule.
    """
    tokens = _rule_tokens(text)
    rule = Rule(backend=backend, family=family, table=table, chain=tokens[1], position=0, text=text)
    negate = False
    in_target = False
    i = 2
    while i < len(tokens):
        tok = tokens[i]
        value = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok == "!":
            negate = True
            i += 1
            continue
        if in_target:
            if tok.startswith("-"):
                has_value = value is not None and not value.startswith("--")
                rule.target_options[tok] = f"!{value}" if negate and has_value else value or ""
                i += 2 if has_value else 1
            else:
                i += 1
            negate = False
            continue
        used = 2
        if tok in ("-j", "--jump", "-g", "--goto") and value is not None:
            rule.target = value
            in_target = True
        elif tok in _ADDRESS_OPTIONS and value is not None:
            _set_address(rule, _ADDRESS_OPTIONS[tok], value, negate)
        elif tok in ("-m", "--match") and value is not None:
            rule.matches.append(value)
        elif tok in _DPORT and value is not None:
            rule.dport = f"!{value}" if negate else value
        elif tok in _SPORT and value is not None:
            rule.sport = f"!{value}" if negate else value
        elif tok == "--comment" and value is not None:
            rule.comment = value
        elif tok in ("-c", "--set-counters"):
            used = 3
        else:
            used = 1  # an option we do not model, or its value: text has it
        i += used
        negate = False
    return rule


def _set_address(rule: Rule, field: str, value: str, negate: bool) -> None:
    if field == "source":
        rule.source, rule.source_negated = value, negate
    elif field == "destination":
        rule.destination, rule.destination_negated = value, negate
    elif field == "in":
        rule.in_interface, rule.in_negated = value, negate
    elif field == "out":
        rule.out_interface, rule.out_negated = value, negate
    else:
        rule.protocol, rule.protocol_negated = value, negate


# --------------------------------------------------------------------------- match options
#: rule-level options that are not part of a ``-m`` module (their value follows)
_RULE_LEVEL = frozenset(_ADDRESS_OPTIONS) | {"-f", "--fragment"}
#: match options that take two values (``--tcp-flags MASK COMP``), kept as "MASK COMP"
_TWO_VALUES = frozenset({"--tcp-flags", "--match-set"})


@dataclass(frozen=True, slots=True)
class MatchOption:
    """One option of a match module: ``! --dst-type LOCAL`` is
    ``MatchOption("--dst-type", "LOCAL", negated=True)``; a flag has value None."""

    name: str
    value: str | None
    negated: bool = False


@dataclass(frozen=True, slots=True)
class MatchModule:
    """One ``-m NAME`` and the options written after it."""

    name: str
    options: tuple[MatchOption, ...]

    def get(self, name: str) -> MatchOption | None:
        return next((o for o in self.options if o.name == name), None)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What :func:`parse_rule` leaves in ``text`` only: each match module with its
    options, and whether the target is reached by ``-g`` (goto) rather than ``-j``."""

    modules: tuple[MatchModule, ...]
    goto: bool


def parse_rule_spec(text: str) -> RuleSpec:
    """The match modules and jump kind of one ``-A CHAIN ...`` line.

    An option's value is the next token unless that starts with ``-`` or is ``!``
    (iptables-save writes negation before the option); ``--tcp-flags`` and
    ``--match-set`` keep their two values as one, space-separated. Options written before any
    ``-m`` (``-p tcp --dport 80``) belong to the protocol's implicit module.
    Raises ValueError like :func:`parse_rule`.
    """
    tokens = _rule_tokens(text)
    modules: list[tuple[str, list[MatchOption]]] = []
    protocol = ""
    goto = False
    negate = False
    i = 2
    while i < len(tokens):
        tok = tokens[i]
        value = tokens[i + 1] if i + 1 < len(tokens) else None
        has_value = value is not None and value != "!" and not value.startswith("-")
        if tok == "!":
            negate = True
            i += 1
            continue
        if tok in ("-j", "--jump", "-g", "--goto"):
            goto = tok in ("-g", "--goto")
            break
        if tok in ("-m", "--match") and value is not None:
            modules.append((value, []))
        elif tok in ("-p", "--protocol") and value is not None:
            protocol = value
        elif tok in ("-c", "--set-counters"):
            i += 3
            continue
        elif tok in _RULE_LEVEL:
            pass
        elif tok.startswith("-"):
            if not modules:
                modules.append((protocol or "?", []))
            used = 2 if has_value else 1
            if has_value and tok in _TWO_VALUES and i + 2 < len(tokens):
                value, used = f"{value} {tokens[i + 2]}", 3
            modules[-1][1].append(MatchOption(tok, value if has_value else None, negate))
            negate = False
            i += used
            continue
        negate = False
        i += 2 if tok in _RULE_LEVEL or tok in ("-m", "--match", "-p", "--protocol") else 1
    return RuleSpec(tuple(MatchModule(n, tuple(opts)) for n, opts in modules), goto)
