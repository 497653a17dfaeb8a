"""Command line: a thin layer over the collectors and the app factory.

    netexplorer                      explore the live host (Textual app)
    netexplorer --snapshot FILE      explore a snapshot written earlier
    netexplorer --demo               explore the snapshot recorded from the lab
    netexplorer snapshot --json [-o FILE]
    netexplorer doctor [--json] [--snapshot FILE]   explain broken container networking
    netexplorer map [--format text|dot|mermaid|json] [--snapshot FILE]   the map
    netexplorer path SRC DST [--proto P] [--port N] [--json] [--snapshot FILE]

Exit codes (also in README):
    0  success (doctor: no problem found)
    1  snapshot written, but a source failed (its error is in sources[]);
       doctor: no problem found, but a source failed, so not everything was checked
    2  usage error
    3  doctor: at least one problem found; path: the packet is not delivered
    4  a snapshot file could not be read or written; path: an unknown name
    130 interrupted
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from netexplorer import __version__
from netexplorer.literal import escape_controls
from netexplorer.map import FORMATS

if TYPE_CHECKING:
    from netexplorer.correlate import Correlation
    from netexplorer.model import Endpoint, Snapshot

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_PROBLEMS = 3
EXIT_FILE = 4
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netexplorer",
        description="Explore how Docker containers are wired on this host: containers, "
        "veth pairs, bridge ports and NAT rules, cross-linked.",
    )
    parser.add_argument("--version", action="version", version=f"netexplorer {__version__}")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--snapshot",
        metavar="FILE",
        help="browse a snapshot file written by 'netexplorer snapshot --json -o FILE'",
    )
    source.add_argument(
        "--demo",
        action="store_true",
        help="browse a snapshot recorded from the lab (no Docker or root needed)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how often firewall rules and counters are polled (default 2)",
    )
    sub = parser.add_subparsers(dest="command")
    snap = sub.add_parser("snapshot", help="collect the host once and print it")
    snap.add_argument("--json", action="store_true", help="print the correlated snapshot as JSON")
    snap.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    doc = sub.add_parser(
        "doctor",
        help="explain broken container networking (exit 3 when a problem is found)",
        description="Check the host (or a snapshot file) for what breaks container "
        "networking: ip_forward off, FORWARD DROP, missing MASQUERADE or DNAT, rules in "
        "both iptables backends, br_netfilter, ports down, missing veths. Silent and exit 0 "
        "when healthy; exit 3 when a problem is found.",
    )
    doc.add_argument("--json", action="store_true", help="print the findings as JSON")
    doc.add_argument(
        "--snapshot",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="check a snapshot file instead of the live host",
    )
    mp = sub.add_parser(
        "map",
        help="draw how containers, veths, bridges and NAT connect (text, dot, mermaid, json)",
        description="The map of the live host (or a snapshot file): networks with their "
        "bridges, containers joined by their veths, the NAT step to the egress interface, "
        "published ports. text is the drawing the app shows on 'm'; dot is for graphviz "
        "(netexplorer map --format dot | dot -Tsvg); mermaid renders on GitHub; json gives "
        "nodes and edges.",
    )
    mp.add_argument("--format", choices=FORMATS, default="text", help="output format")
    mp.add_argument(
        "--snapshot",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="draw a snapshot file instead of the live host",
    )
    path = sub.add_parser(
        "path",
        help="follow one packet from SRC to DST hop by hop (exit 3 when not delivered)",
        description="Follow one packet hop by hop in kernel order: route lookups, the veth "
        "pair, the bridge, every netfilter hook with the rule that decides and its counters, "
        "NAT, the egress, and the reply. SRC: a container (name or id prefix), 'host', or an "
        "address outside the host. DST: a container, an address, 'host', 'internet' or "
        "HOST:PORT (a published port). Exit 0 delivered, 3 not delivered, 4 unknown name.",
    )
    path.add_argument("src", metavar="SRC")
    path.add_argument("dst", metavar="DST")
    path.add_argument("--proto", choices=("icmp", "tcp", "udp"), default="icmp")
    path.add_argument("--port", type=int, metavar="N", help="destination port (tcp, udp)")
    path.add_argument("--json", action="store_true", help="print the path as JSON")
    path.add_argument(
        "--snapshot",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="follow the path in a snapshot file instead of the live host",
    )
    return parser


def _endpoint_wiring(ep: Endpoint, corr: Correlation) -> str:
    """``veth4437483@if1164 -> docker0``; a macvlan/ipvlan child's parent; a missing veth."""
    w = corr.wiring(ep)
    if w.parent:
        return f"child of {escape_controls(w.parent)} (no veth)"
    if w.host_veth:
        return (
            f"{escape_controls(w.host_veth)}@if{w.peer_ifindex or '?'} -> "
            f"{escape_controls(w.bridge or '-')}"
        )
    if w.bridge:
        return f"host veth not found -> {escape_controls(w.bridge)}"
    return "no veth"


def _summary(snap: Snapshot, corr: Correlation) -> str:
    """One line per container endpoint, like the tutorial's walk; host text made literal."""
    from netexplorer.naming import netns_words, network_mode_name

    lines = []
    for ct in snap.containers:
        name = escape_controls(ct.name)
        for ep in ct.endpoints:
            if ep.network in ("host", "none"):
                continue  # Docker's endpoint for these modes: no interface of its own
            lines.append(
                f"{name:<20} {escape_controls(ep.network):<14} "
                f"{ep.ipv4 or ep.ipv6 or '-':<16} "
                f"{_endpoint_wiring(ep, corr)}  rules: {len(corr.wiring(ep).rules)}"
            )
        words = netns_words(ct, snap.containers)
        if words is not None:
            mode = escape_controls(network_mode_name(ct, snap.containers))
            lines.append(f"{name:<20} {mode:<14} {escape_controls(words)}")
    lines.extend(f"warning: {escape_controls(w)}" for w in [*snap.warnings, *corr.warnings])
    return "\n".join(lines) + "\n"


def cmd_snapshot(args: argparse.Namespace) -> int:
    from netexplorer.collect.snapshot import collect_snapshot
    from netexplorer.correlate import correlate
    from netexplorer.snapshot_io import snapshot_to_json

    snap = collect_snapshot()
    corr = correlate(snap)
    text = snapshot_to_json(snap, corr) if args.json else _summary(snap, corr)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(
                f"netexplorer: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr
            )
            return EXIT_FILE
    else:
        sys.stdout.write(text)
    failed = [s for s in snap.sources if not s.ok]
    for s in failed:
        print(f"netexplorer: {s.name}: {s.error}", file=sys.stderr)
    return EXIT_PARTIAL if failed else EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from netexplorer.analysis import analyse
    from netexplorer.doctor.report import findings_to_json, findings_to_text
    from netexplorer.snapshot_io import SnapshotFileError, load_snapshot

    if args.snapshot or args.demo:
        from netexplorer.ui.sources import demo_path

        try:
            snap = load_snapshot(args.snapshot or demo_path())
        except SnapshotFileError as exc:
            print(f"netexplorer: {exc}", file=sys.stderr)
            return EXIT_FILE
    else:
        from netexplorer.collect.snapshot import collect_snapshot

        snap = collect_snapshot()
    result = analyse(snap)
    links, findings = result.links, list(result.findings)
    if args.json:
        sys.stdout.write(findings_to_json(snap, links, findings))
    else:
        sys.stdout.write(findings_to_text(links, findings))
    failed = [s for s in snap.sources if not s.ok]
    for s in failed:
        print(
            f"netexplorer: {s.name}: {s.error} (the checks that need it were skipped)",
            file=sys.stderr,
        )
    if findings:
        return EXIT_PROBLEMS
    return EXIT_PARTIAL if failed else EXIT_OK


def _read(args: argparse.Namespace) -> Snapshot | None:
    """The snapshot a subcommand works on: the file or demo asked for, else the live host;
    None (after saying why) when the file cannot be read."""
    from netexplorer.snapshot_io import SnapshotFileError, load_snapshot

    if getattr(args, "snapshot", None) or args.demo:
        from netexplorer.ui.sources import demo_path

        try:
            return load_snapshot(args.snapshot or demo_path())
        except SnapshotFileError as exc:
            print(f"netexplorer: {exc}", file=sys.stderr)
            return None
    from netexplorer.collect.snapshot import collect_snapshot

    return collect_snapshot()


def cmd_map(args: argparse.Namespace) -> int:
    from netexplorer.correlate import correlate
    from netexplorer.map.export import export
    from netexplorer.map.model import build_map

    snap = _read(args)
    if snap is None:
        return EXIT_FILE
    sys.stdout.write(export(build_map(snap, correlate(snap)), args.format))
    failed = [s for s in snap.sources if not s.ok]
    for s in failed:
        print(f"netexplorer: {s.name}: {s.error} (the map lacks what it reads)", file=sys.stderr)
    return EXIT_PARTIAL if failed else EXIT_OK


def cmd_path(args: argparse.Namespace) -> int:
    from netexplorer.correlate import correlate
    from netexplorer.path import UnknownName, trace_path
    from netexplorer.path.report import path_to_json, path_to_text

    snap = _read(args)
    if snap is None:
        return EXIT_FILE
    corr = correlate(snap)
    try:
        result = trace_path(snap, corr, args.src, args.dst, args.proto, args.port)
    except UnknownName as exc:
        print(f"netexplorer: {escape_controls(str(exc))}", file=sys.stderr)
        return EXIT_FILE
    except ValueError as exc:
        print(f"netexplorer: {escape_controls(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(path_to_json(result) if args.json else path_to_text(result))
    for s in snap.sources:
        if not s.ok:
            print(f"netexplorer: {s.name}: {s.error}", file=sys.stderr)
    return EXIT_OK if result.delivered else EXIT_PROBLEMS


def cmd_app(args: argparse.Namespace) -> int:
    first_read = None
    if not (args.snapshot or args.demo):
        from netexplorer.collect import first_read as first_read_child

        # the live host is read by a child while Textual loads (one thread here)
        first_read = first_read_child.start()
    from netexplorer.snapshot_io import SnapshotFileError
    from netexplorer.ui.app import create_app

    try:
        app = create_app(
            snapshot=args.snapshot,
            demo=args.demo,
            interval=args.interval,
            first_read=first_read.take if first_read is not None else None,
        )
    except SnapshotFileError as exc:
        print(f"netexplorer: {exc}", file=sys.stderr)
        return EXIT_FILE
    app.run()
    return int(app.return_code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "snapshot":
            return cmd_snapshot(args)
        if args.command == "doctor":
            return cmd_doctor(args)
        if args.command == "map":
            return cmd_map(args)
        if args.command == "path":
            return cmd_path(args)
        return cmd_app(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
