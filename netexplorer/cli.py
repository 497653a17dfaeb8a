"""Command line: a thin layer over the collectors and the app factory.

    netexplorer                      explore the live host (Textual app)
    netexplorer --snapshot FILE      explore a snapshot written earlier
    netexplorer --demo               explore the snapshot recorded from the lab
    netexplorer snapshot --json [-o FILE]
    netexplorer doctor [--json] [--snapshot FILE]   explain broken container networking
    netexplorer map [--format text|dot|mermaid|json] [--snapshot FILE]   the map
    netexplorer path SRC DST [--proto P] [--port N] [--json] [--snapshot FILE]
    netexplorer [snapshot|doctor|map|path] --host ssh://[user@]host[:port] ...   remote
    netexplorer agent                the collector a remote session runs (stdio protocol)

Exit codes (also in README):
    0  success (doctor: no problem found)
    1  snapshot written, but a source failed (its error is in sources[]);
       doctor: no problem found, but a source failed, so not everything was checked
    2  usage error
    3  doctor: at least one problem found; path: the packet is not delivered
    4  a snapshot file could not be read or written; path: an unknown name
    5  a remote host could not be read (the message says why and how to fix it);
       with several hosts, doctor exits with the highest code of them
    130 interrupted
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from netexplorer import __version__
from netexplorer.literal import escape_controls
from netexplorer.map import FORMATS

if TYPE_CHECKING:
    from netexplorer.correlate import Correlation
    from netexplorer.model import Endpoint, Snapshot
    from netexplorer.remote.target import Target

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_PROBLEMS = 3
EXIT_FILE = 4
EXIT_REMOTE = 5
EXIT_INTERRUPTED = 130


def _add_host_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """--host/-H, --hosts-file, --remote-sudo: on the app and on each subcommand (a
    subcommand's copy leaves the app's value alone when not given)."""
    keep: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "-H",
        "--host",
        action="append",
        dest="hosts",
        metavar="ssh://[user@]host[:port]",
        help="read this remote host over ssh (repeat for several); default: DOCKER_HOST "
        "or the current docker context when they name an ssh:// host, else this host",
        **({"default": []} if top else keep),
    )
    parser.add_argument(
        "--hosts-file",
        metavar="FILE",
        help="read the hosts listed in FILE (one per line, # comments)",
        **keep,
    )
    parser.add_argument(
        "--remote-sudo",
        action="store_true",
        help="run the remote collector under 'sudo -n' (for a remote user that is not root)",
        **keep,
    )


def _add_read_options(parser: argparse.ArgumentParser, snapshot_file: bool = True) -> None:
    """What a subcommand reads: a remote host (:func:`_add_host_options`) or, with
    ``snapshot_file``, ``--snapshot FILE`` instead of the live host."""
    _add_host_options(parser, top=False)
    if snapshot_file:
        parser.add_argument(
            "--snapshot",
            metavar="FILE",
            default=argparse.SUPPRESS,
            help="read a snapshot file (netexplorer snapshot --json -o FILE) instead of the "
            "live host",
        )


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
    _add_host_options(parser, top=True)
    sub = parser.add_subparsers(dest="command")
    snap = sub.add_parser("snapshot", help="collect the host once and print it")
    _add_read_options(snap, snapshot_file=False)
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
    _add_read_options(doc)
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
    _add_read_options(mp)
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
    _add_read_options(path)
    agent = sub.add_parser(
        "agent",
        help="the collector a remote session runs (netexplorer --host starts it over ssh)",
        description="Stream this host's reads and live changes on stdout in netexplorer's "
        "protocol, for 'netexplorer --host' on another machine. Not for interactive use.",
    )
    agent.add_argument("--once", action="store_true", help="send one read, then exit")
    return parser


def _targets(args: argparse.Namespace) -> list[Target]:
    """The remote hosts the options (or DOCKER_HOST / the docker context) name."""
    from netexplorer.remote.target import pick_targets

    return pick_targets(list(args.hosts or []), args.hosts_file)


def _read_remote(args: argparse.Namespace, target: Target) -> Snapshot | None:
    """One read of a remote host; None (after saying why) if it failed."""
    from netexplorer.remote.feed import RemoteError, read_once

    try:
        return read_once(target, args.remote_sudo)
    except RemoteError as exc:
        print(f"netexplorer: {escape_controls(str(exc))}", file=sys.stderr)
        return None


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
    found = corr.overlay.of_endpoint(ep.key)
    if found is not None:
        from netexplorer.overlay import overlay_hops

        return " -> ".join(escape_controls(h) for h in overlay_hops(*found))
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


def cmd_snapshot(args: argparse.Namespace, targets: list[Target]) -> int:
    # one read, then the process ends: the cycle collector's passes over the read's
    # objects (~10% of the work) are skipped while it runs
    gc.disable()
    try:
        return _snapshot(args, targets)
    finally:
        gc.enable()


def _snapshot(args: argparse.Namespace, targets: list[Target]) -> int:
    from netexplorer.correlate import correlate
    from netexplorer.snapshot_io import snapshot_to_json

    if len(targets) > 1:
        print("netexplorer: snapshot reads one host; give one --host", file=sys.stderr)
        return EXIT_USAGE
    if targets:
        remote = _read_remote(args, targets[0])
        if remote is None:
            return EXIT_REMOTE
        snap = remote
    else:
        from netexplorer.collect.snapshot import collect_snapshot

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


def cmd_doctor(args: argparse.Namespace, targets: list[Target]) -> int:
    if len(targets) > 1:
        return _doctor_hosts(args, targets)
    snap = _read_one(args, targets)
    return snap if isinstance(snap, int) else _doctor_one(args, snap)


def _doctor_one(args: argparse.Namespace, snap: Snapshot) -> int:
    from netexplorer.analysis import analyse
    from netexplorer.doctor.report import findings_to_json, findings_to_text

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


def _doctor_hosts(args: argparse.Namespace, targets: list[Target]) -> int:
    """The doctor on each host (read concurrently): a section per host, the worst exit."""
    import contextlib
    import io
    import json

    from netexplorer.remote.hosts import read_hosts

    codes: list[int] = []
    docs: list[dict[str, object]] = []
    for read in read_hosts(targets, args.remote_sudo):
        if not args.json:
            sys.stdout.write(f"== {escape_controls(read.target.label)}\n")
        if read.snapshot is None:
            print(f"netexplorer: {escape_controls(read.error or '')}", file=sys.stderr)
            codes.append(EXIT_REMOTE)
            docs.append({"host": read.target.label, "exit": EXIT_REMOTE, "error": read.error})
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = _doctor_one(args, read.snapshot)
        codes.append(code)
        if args.json:
            docs.append({"host": read.target.label, "exit": code, **json.loads(out.getvalue())})
        else:
            sys.stdout.write(out.getvalue() or "no problem found\n")
    if args.json:
        sys.stdout.write(json.dumps({"hosts": docs}, indent=2, ensure_ascii=False) + "\n")
    return max(codes)


def _read(args: argparse.Namespace, targets: list[Target]) -> Snapshot | None:
    """The snapshot a subcommand works on: the file or demo asked for, the remote host,
    else the live host; None (after saying why) when the file or host cannot be read."""
    from netexplorer.snapshot_io import SnapshotFileError, load_snapshot

    if targets:
        return _read_remote(args, targets[0])

    if getattr(args, "snapshot", None) or args.demo:
        from netexplorer.ui.sources import demo_path

        try:
            return load_snapshot(args.snapshot or demo_path())
        except SnapshotFileError as exc:
            print(f"netexplorer: {exc}", file=sys.stderr)
            return None
    from netexplorer.collect.snapshot import collect_snapshot

    return collect_snapshot()


def _read_one(args: argparse.Namespace, targets: list[Target]) -> Snapshot | int:
    """:func:`_read` for a subcommand that reads one host, or its exit code after
    saying why not."""
    if len(targets) > 1:
        print(f"netexplorer: {args.command} reads one host; give one --host", file=sys.stderr)
        return EXIT_USAGE
    snap = _read(args, targets)
    if snap is None:
        return EXIT_REMOTE if targets else EXIT_FILE
    return snap


def cmd_map(args: argparse.Namespace, targets: list[Target]) -> int:
    from netexplorer.correlate import correlate
    from netexplorer.map.export import export
    from netexplorer.map.model import build_map

    snap = _read_one(args, targets)
    if isinstance(snap, int):
        return snap
    sys.stdout.write(export(build_map(snap, correlate(snap)), args.format))
    failed = [s for s in snap.sources if not s.ok]
    for s in failed:
        print(f"netexplorer: {s.name}: {s.error} (the map lacks what it reads)", file=sys.stderr)
    return EXIT_PARTIAL if failed else EXIT_OK


def cmd_path(args: argparse.Namespace, targets: list[Target]) -> int:
    from netexplorer.correlate import correlate
    from netexplorer.path import UnknownName, trace_path
    from netexplorer.path.report import path_to_json, path_to_text

    snap = _read_one(args, targets)
    if isinstance(snap, int):
        return snap
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


def cmd_app(args: argparse.Namespace, targets: list[Target]) -> int:
    first_read = None
    if not (args.snapshot or args.demo or targets):
        from netexplorer.collect import first_read as first_read_child

        # the live host is read by a child while Textual loads (one thread here)
        first_read = first_read_child.start()
    from netexplorer.snapshot_io import SnapshotFileError
    from netexplorer.ui.app import create_app

    # Start-up makes the read, its analysis and the panes' rows: objects that live
    # on, which the cycle collector would otherwise pass over again and again while
    # they are being made. It stays off until the app has painted its first read
    # (NetExplorerApp.start_up_over: they are frozen out of its sight, then it is
    # turned on again).
    gc.disable()
    try:
        app = create_app(
            snapshot=args.snapshot,
            demo=args.demo,
            interval=args.interval,
            first_read=first_read.take if first_read is not None else None,
            hosts=targets,
            remote_sudo=args.remote_sudo,
        )
        app.run()
    except SnapshotFileError as exc:
        print(f"netexplorer: {exc}", file=sys.stderr)
        return EXIT_FILE
    finally:
        gc.enable()
    return int(app.return_code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "agent":
        from netexplorer.remote.agent import run_agent

        return run_agent(args.interval, args.once)
    from netexplorer.remote.target import TargetError

    if (args.snapshot or args.demo) and (args.hosts or args.hosts_file):
        parser.error("--host/--hosts-file and --snapshot/--demo name different things to read")
    try:
        targets = [] if args.snapshot or args.demo else _targets(args)
    except TargetError as exc:
        parser.error(escape_controls(str(exc)))
    try:
        if args.command not in ONE_SHOT:
            return cmd_app(args, targets)
        code = ONE_SHOT[args.command](args, targets)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if argv is None:  # the program itself, not a caller in this process
        end_now(code)
    return code


#: the commands that read, print and end
ONE_SHOT = {"snapshot": cmd_snapshot, "doctor": cmd_doctor, "map": cmd_map, "path": cmd_path}


def end_now(code: int) -> NoReturn:
    """End the process with ``code`` once what it printed is flushed, without the
    interpreter's teardown (freeing every module and every object of the read, tens
    of milliseconds): nothing is left to run after a one-shot command."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away; the interpreter's own exit says 120
        code = 120
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
