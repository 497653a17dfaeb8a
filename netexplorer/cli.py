"""Command line: a thin layer over the collectors and the app factory.

    netexplorer                      explore the live host (Textual app)
    netexplorer --snapshot FILE      explore a snapshot written earlier
    netexplorer --demo               explore the snapshot recorded from the lab
    netexplorer snapshot --json [-o FILE]
    netexplorer doctor [--json] [--snapshot FILE]   explain broken container networking
    netexplorer map [--format text|dot|mermaid|json] [--snapshot FILE]   the map
    netexplorer path SRC DST [--proto P] [--port N] [--task TASK] [--json] [--snapshot FILE]
    netexplorer [snapshot|doctor|map|path] --host ssh://[user@]host[:port] ...   remote
    netexplorer map|path [-H ssh://... ...] [--local] | [--snapshot FILE ...]   several
                                     hosts joined through their swarm tunnels
    netexplorer agent                the collector a remote session runs (stdio protocol)

Exit codes (also in README):
    0  success (doctor: no problem found)
    1  snapshot written, but a source failed (its error is in sources[]);
       doctor: no problem found, but a source failed, so not everything was checked
    2  usage error
    3  doctor: at least one problem found; path: the packet is not delivered
    4  a snapshot file could not be read or written; path: an unknown name, or
       one held by several hosts (the message lists them as NAME@HOST)
    5  a remote host could not be read (the message says why and how to fix it);
       with several hosts, doctor exits with the highest code of them; with several
       reads, map and path show what the others give and exit with the highest
       code of the path, the map and the reads that failed (4 a file, 5 a host)
    130 interrupted
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from netexplorer import __version__
from netexplorer.literal import escape_controls
from netexplorer.map import FORMATS

if TYPE_CHECKING:
    from netexplorer.correlate import Correlation
    from netexplorer.model import Endpoint, Snapshot
    from netexplorer.overlay_peers import HostRead
    from netexplorer.remote.target import Target

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_PROBLEMS = 3
EXIT_FILE = 4
EXIT_REMOTE = 5
EXIT_INTERRUPTED = 130

#: what ``--local`` puts among the ``--host`` values: this host, read where it stands
LOCAL: Any = object()


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


def _add_local_option(parser: argparse.ArgumentParser, top: bool) -> None:
    """--local: this host among the --host ones (its place in the list kept)."""
    from netexplorer.remote.target import LOCAL_NAME

    keep: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "--local",
        action="append_const",
        const=LOCAL,
        dest="hosts",
        **keep,
        help="read this host too, beside the --host ones, in the order given (its "
        f"name: {LOCAL_NAME})",
    )


def _add_read_options(
    parser: argparse.ArgumentParser, snapshot_file: bool = True, several: bool = False
) -> None:
    """What a subcommand reads: a remote host (:func:`_add_host_options`) or, with
    ``snapshot_file``, ``--snapshot FILE`` instead of the live host; with ``several``,
    several of them (``--snapshot`` repeated, ``--local`` beside ``--host``)."""
    _add_host_options(parser, top=False)
    if several:
        _add_local_option(parser, top=False)
    if snapshot_file:
        parser.add_argument(
            "--snapshot",
            metavar="FILE",
            default=argparse.SUPPRESS,
            action="append" if several else "store",
            help="read a snapshot file (netexplorer snapshot --json -o FILE) instead of the "
            "live host"
            + (
                "; repeat for several hosts' recorded reads (each named by its file name "
                "up to the first dot)"
                if several
                else ""
            ),
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
    _add_local_option(parser, top=True)
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
        "nodes and edges. With several reads (--host repeated, --hosts-file, --local, "
        "--snapshot repeated), the map is the first read's, and each swarm tunnel's row "
        "goes on into the host read that holds its far end (its vxlan, br0, veths and "
        "containers).",
    )
    mp.add_argument("--format", choices=FORMATS, default="text", help="output format")
    _add_read_options(mp, several=True)
    path = sub.add_parser(
        "path",
        help="follow one packet from SRC to DST hop by hop (exit 3 when not delivered)",
        description="Follow one packet hop by hop in kernel order: route lookups, the veth "
        "pair, the bridge, every netfilter hook with the rule that decides and its counters, "
        "NAT, the egress, and the reply. SRC: a container (name or id prefix), 'host', "
        "'internet' or an address outside the host. DST: a container, an address, 'host', "
        "'internet' or HOST:PORT (a published port, a swarm service's through the routing "
        "mesh; --task picks the task followed). With several reads (--host repeated, "
        "--hosts-file, --local, --snapshot repeated), the path starts on the host holding SRC "
        "and goes on through a swarm tunnel into the host read that holds its far end; a "
        "container on one host is named as on one host, one whose name several hosts hold as "
        "NAME@HOST (HOST: 'local', an ssh host as user@host:port or its host alone, a "
        "snapshot's file name up to the first dot); 'host', 'internet' and other addresses "
        "are the first read's (or NAME@HOST). Exit 0 delivered, 3 not delivered, 4 unknown "
        "or ambiguous name.",
    )
    path.add_argument("src", metavar="SRC")
    path.add_argument("dst", metavar="DST")
    path.add_argument("--proto", choices=("icmp", "tcp", "udp"), default="icmp")
    path.add_argument("--port", type=int, metavar="N", help="destination port (tcp, udp)")
    path.add_argument("--json", action="store_true", help="print the path as JSON")
    path.add_argument(
        "--task",
        metavar="TASK",
        help="through a swarm service's routing mesh, the task IPVS is followed to "
        "(container name, id prefix or its ingress address; default: the first local one)",
    )
    _add_read_options(path, several=True)
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

    hosts = [h for h in args.hosts or [] if h is not LOCAL]
    if len(hosts) < len(args.hosts or []) and not hosts and args.hosts_file is None:
        return []  # --local alone: this host, not DOCKER_HOST's
    return pick_targets(hosts, args.hosts_file)


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

    files = _files(args)
    if files or args.demo:
        from netexplorer.ui.sources import demo_path

        try:
            return load_snapshot(files[0] if files else demo_path())
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


def _files(args: argparse.Namespace) -> list[str]:
    """The snapshot files named (``--snapshot`` once on the app, or repeated)."""
    given = getattr(args, "snapshot", None) or []
    return [given] if isinstance(given, str) else list(given)


def _plan(args: argparse.Namespace, targets: list[Target]) -> list[Target | None]:
    """The hosts to read in the order given: ``targets``, with None (this host) where
    ``--local`` stands among the ``--host`` values."""
    hosts = list(getattr(args, "hosts", None) or [])
    if LOCAL not in hosts:
        return list(targets)
    before = sum(1 for h in hosts[: hosts.index(LOCAL)] if h is not LOCAL)
    return [*targets[:before], None, *targets[before:]]


def _several(args: argparse.Namespace, targets: list[Target]) -> bool:
    """Several reads asked for: more than one host (``--local`` counting) or file."""
    return len(_files(args)) > 1 or len(_plan(args, targets)) > 1


def _file_names(files: list[str]) -> list[str]:
    """Each file's read named by its file name up to the first dot (``node2`` for
    ``node2.snapshot.json``), or as given where two files would share that name."""
    short = [Path(f).name.split(".", 1)[0] or f for f in files]
    return [s if short.count(s) == 1 else f for s, f in zip(short, files, strict=True)]


def _read_several(args: argparse.Namespace, targets: list[Target]) -> tuple[list[HostRead], int]:
    """Every read asked for, each named and correlated, in the order given, with the
    highest exit code of those that could not be read (EXIT_OK when none failed:
    each failure is said on stderr, naming the host or file)."""
    from netexplorer.collect.snapshot import collect_snapshot
    from netexplorer.correlate import correlate
    from netexplorer.overlay_peers import HostRead
    from netexplorer.remote.hosts import read_hosts
    from netexplorer.remote.target import LOCAL_NAME
    from netexplorer.snapshot_io import SnapshotFileError, load_snapshot

    named: list[tuple[str, Snapshot]] = []
    worst = EXIT_OK
    files = _files(args)
    for name, path in zip(_file_names(files), files, strict=True):
        try:
            named.append((name, load_snapshot(path)))
        except SnapshotFileError as exc:
            print(f"netexplorer: {exc}", file=sys.stderr)
            worst = max(worst, EXIT_FILE)
    plan = [] if files else _plan(args, targets)
    remote = [t for t in plan if t is not None]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the remote hosts over ssh while this host is read here
        pending = pool.submit(read_hosts, remote, args.remote_sudo)
        local = collect_snapshot() if None in plan else None
        got = iter(pending.result())
    for target in plan:
        if target is None:
            assert local is not None
            named.append((LOCAL_NAME, local))
            continue
        one = next(got)
        if one.snapshot is None:
            print(f"netexplorer: {escape_controls(one.error or '')}", file=sys.stderr)
            worst = max(worst, EXIT_REMOTE)
            continue
        named.append((target.label, one.snapshot))
    return [HostRead(n, snap, correlate(snap)) for n, snap in named], worst


def _sources_failed(reads: Sequence[HostRead], what: str) -> bool:
    """Say each read's failed sources (naming the host when there are several);
    True when one failed."""
    failed = False
    for r in reads:
        where = f"{escape_controls(r.name)}: " if len(reads) > 1 else ""
        for s in r.read.sources:
            if not s.ok:
                print(f"netexplorer: {where}{s.name}: {s.error}{what}", file=sys.stderr)
                failed = True
    return failed


def cmd_map(args: argparse.Namespace, targets: list[Target]) -> int:
    from netexplorer.correlate import correlate
    from netexplorer.map.export import export
    from netexplorer.map.model import build_map

    if _several(args, targets):
        return _map_several(args, targets)
    snap = _read_one(args, targets)
    if isinstance(snap, int):
        return snap
    sys.stdout.write(export(build_map(snap, correlate(snap)), args.format))
    failed = [s for s in snap.sources if not s.ok]
    for s in failed:
        print(f"netexplorer: {s.name}: {s.error} (the map lacks what it reads)", file=sys.stderr)
    return EXIT_PARTIAL if failed else EXIT_OK


def _map_several(args: argparse.Namespace, targets: list[Target]) -> int:
    """The first read's map with its swarm tunnels going on into the other reads
    (overlay_peers.join, as the app joins the hosts it shows)."""
    from netexplorer.map.export import export
    from netexplorer.map.model import build_map
    from netexplorer.overlay_peers import join

    reads, worst = _read_several(args, targets)
    if not reads:
        return worst
    here, others = reads[0], reads[1:]
    far = join(here, others).ends
    sys.stdout.write(export(build_map(here.read, here.correlation, far), args.format))
    failed = _sources_failed(reads, " (the map lacks what it reads)")
    return max(worst, EXIT_PARTIAL if failed else EXIT_OK)


def cmd_path(args: argparse.Namespace, targets: list[Target]) -> int:
    from netexplorer.correlate import correlate
    from netexplorer.path import UnknownName, trace_path
    from netexplorer.path.report import path_to_json, path_to_text

    if _several(args, targets):
        return _path_several(args, targets)
    snap = _read_one(args, targets)
    if isinstance(snap, int):
        return snap
    corr = correlate(snap)
    try:
        result = trace_path(snap, corr, args.src, args.dst, args.proto, args.port, task=args.task)
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


def _path_several(args: argparse.Namespace, targets: list[Target]) -> int:
    """The path with SRC and DST named across the reads (path.across): from the host
    holding SRC, on through a swarm tunnel into the read holding its far end."""
    from netexplorer.path import UnknownName
    from netexplorer.path.across import trace_across
    from netexplorer.path.report import path_to_json, path_to_text

    reads, worst = _read_several(args, targets)
    if not reads:
        return worst
    try:
        result = trace_across(reads, args.src, args.dst, args.proto, args.port, args.task)
    except UnknownName as exc:
        print(f"netexplorer: {escape_controls(str(exc))}", file=sys.stderr)
        return max(worst, EXIT_FILE)
    except ValueError as exc:
        print(f"netexplorer: {escape_controls(str(exc))}", file=sys.stderr)
        return max(worst, EXIT_USAGE)
    sys.stdout.write(path_to_json(result) if args.json else path_to_text(result))
    _sources_failed(reads, "")
    return max(worst, EXIT_OK if result.delivered else EXIT_PROBLEMS)


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
            hosts=_plan(args, targets) if targets else (),
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
