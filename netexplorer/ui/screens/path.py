"""``p``: the path of a packet from the selected container, hop by hop, sharing the selection.

The destination is asked for first (:class:`DestinationScreen`, completing the
names the engine resolves: containers, ``host``, ``internet``, addresses,
``host:PORT``) and, where the read has the swarm's routing mesh, the task to
follow through it (a second field, Tab to it, completing the tasks holding its
real servers: the CLI's ``--task``). The path is computed by
:func:`netexplorer.path.trace_path` (data layer) in a worker thread; this screen
only lays its hops out as a vertical path.
Moving onto a hop selects the model item it crosses in the whole app
(``app.select(key, "path")``): the rule that decides, else the first thing it
names, so the panes mark it and what is linked to it, as for any selection. Enter
goes to that item in its pane; ``m`` shows the map with the path's items marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from netexplorer.analysis import Analysis
from netexplorer.correlate import Links
from netexplorer.overlay_peers import HostRead
from netexplorer.path import Hop, PathResult, UnknownName, trace_path
from netexplorer.ui.panes.details import describe
from netexplorer.ui.safe_text import plain

if TYPE_CHECKING:
    from netexplorer.ui.app import NetExplorerApp

#: the glyph on the path line of a hop that ends the path
GLYPHS = {"deliver": "■", "drop": "✗", "uncertain": "?"}
STOPPED = frozenset({"DROP", "REJECT", "dropped", "rejected", "forwarding-disabled"})
VERDICT_STYLE = {"delivered": "bold green", "uncertain": "bold yellow"}


#: the kind of key a hop of this kind selects first (a veth hop: the host veth)
PREFERRED = {"veth": "if"}


def hop_key(hop: Hop, links: Links) -> str | None:
    """The model item a hop selects: the rule that decides, else the item it crosses
    (for a veth hop the host veth), else the first it names that the read knows."""
    known = [k for k in (hop.rule, *hop.keys) if k is not None and k in links.labels]
    preferred = PREFERRED.get(hop.kind)
    if hop.rule is None and preferred is not None:
        known.sort(key=lambda k: links.kind(k) != preferred)
    return known[0] if known else None


def hop_text(n: int, hop: Hop, last: bool) -> Text:
    """One hop on the vertical path: ``  3 ● nat      nat POSTROUTING: MASQUERADE ...``
    (● a rule decides, ○ a step, ✗ dropped or rejected, ■ delivered, ? cannot decide)."""
    text = Text(end="", no_wrap=True, overflow="ellipsis")
    glyph = "✗" if hop.verdict in STOPPED else GLYPHS.get(hop.kind, "●" if hop.rule else "○")
    text.append(f"{n:>3} {glyph} ", style="bold")
    text.append(f"{plain(hop.kind):<9}", style="italic")
    text.append(plain(hop.title))
    if hop.rule is not None and hop.packets is not None:
        text.append(f"  [{hop.packets} pkts]", style="dim")
    if not last:
        text.append("\n      │", style="dim")
    return text


def verdict_text(result: PathResult) -> Text:
    text = Text(end="")
    text.append(f"{result.verdict}: ", style=VERDICT_STYLE.get(result.verdict, "bold red"))
    text.append(plain(result.sentence))
    return text


@dataclass(frozen=True, slots=True)
class PathAsked:
    """What the prompt was answered: the destination as typed, and the task to follow
    through the routing mesh (None: the engine's choice)."""

    destination: str
    task: str | None = None


class DestinationScreen(ModalScreen[PathAsked | None]):
    """Asks where the packet goes, completing the names the path engine knows, and,
    when ``tasks`` names any, which task the routing mesh is followed to."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, source: str, names: list[str], tasks: list[str] | None = None) -> None:
        super().__init__(classes="text-screen")
        self.source = source
        self.names = names
        self.tasks = tasks or []

    def compose(self) -> ComposeResult:
        with Vertical(id="text-screen-box") as box:
            box.border_title = f"Path from {plain(self.source)}"
            box.border_subtitle = (
                "→ completes · Tab: task · Enter: trace · Esc: cancel"
                if self.tasks
                else "→ completes · Enter: trace · Esc: cancel"
            )
            yield Static(
                Text(
                    "Destination: a container, host, internet, an address, or host:PORT "
                    "(a published port); tcp/80 or udp/53 after a space picks the protocol.",
                ),
                id="path-ask-help",
            )
            yield Input(
                placeholder="e.g. " + ", ".join(plain(n) for n in self.names[:4]),
                suggester=SuggestFromList(self.names, case_sensitive=False),
                id="path-destination",
            )
            shown = ", ".join(plain(n) for n in self.names[:24])
            more = f" … and {len(self.names) - 24} more" if len(self.names) > 24 else ""
            yield Static(Text(f"known: {shown}{more}", style="dim"), id="path-known")
            if self.tasks:
                yield Static(
                    Text(
                        "Task the routing mesh is followed to (a published swarm port): "
                        "its name, a unique prefix or its address; empty: the first "
                        "task on this host.",
                    ),
                    id="path-task-help",
                )
                yield Input(
                    placeholder="e.g. " + ", ".join(plain(n) for n in self.tasks[:2]),
                    suggester=SuggestFromList(self.tasks, case_sensitive=False),
                    id="path-task",
                )

    def on_mount(self) -> None:
        self.query_one("#path-destination", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter in either field traces (the destination is needed)."""
        destination = self.query_one("#path-destination", Input)
        value = destination.value.strip()
        if not value:
            destination.focus()
            return
        task = self.query(Input).filter("#path-task")
        asked = task.first().value.strip() if task else ""
        self.dismiss(PathAsked(value, asked or None))


def parse_destination(value: str) -> tuple[str, str, int | None]:
    """``web tcp/80`` -> ("web", "tcp", 80); ``internet`` -> ("internet", "icmp", None)."""
    parts = value.split()
    dst, proto, port = parts[0], "icmp", None
    for extra in parts[1:]:
        name, _, number = extra.partition("/")
        if name in ("tcp", "udp", "icmp"):
            proto = name
        if number.isdigit():
            port = int(number)
    return dst, proto, port


class PathScreen(Screen[None]):
    """The hops of one path, vertical, first packet then reply; the selected hop's
    item described below them."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("q", "close", "Back", show=False),
        Binding("enter", "go", "Go to it in its pane"),
        Binding("m", "map", "Map"),
    ]

    def __init__(self, source: str, destination: str, task: str | None = None) -> None:
        super().__init__()
        self.source = source
        self.destination = destination
        #: the task followed through the routing mesh (None: the engine's choice)
        self.mesh_task = task
        self.result: PathResult | None = None
        #: the read the path was traced on (a newer one may arrive meanwhile)
        self.analysis: Analysis | None = None
        self.hops: list[Hop] = []
        self.error: str | None = None

    @property
    def nx(self) -> NetExplorerApp:
        from netexplorer.ui.app import NetExplorerApp

        assert isinstance(self.app, NetExplorerApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Path {self.source} → {self.destination}"), id="path-title")
        yield Static(Text("tracing…", style="italic"), id="path-verdict")
        yield OptionList(id="path-hops")
        with VerticalScroll(id="path-item-scroll"):
            yield Static(Text(""), id="path-item")
        yield Footer()

    def on_mount(self) -> None:
        analysis = self.nx.analysis
        if analysis is None:
            self._show_error("nothing has been read yet: wait for the first read, then press p")
            return
        self.analysis = analysis
        self._trace(analysis, self.nx.other_reads())

    @work(thread=True, exclusive=True)
    def _trace(self, analysis: Analysis, others: list[HostRead]) -> None:
        """The path on the shown host's read, going on into the other hosts' reads
        through a swarm tunnel."""
        dst, proto, port = parse_destination(self.destination)
        try:
            result = trace_path(
                analysis.read,
                analysis.correlation,
                self.source,
                dst,
                proto,
                port,
                others,
                task=self.mesh_task,
            )
        except (UnknownName, ValueError) as exc:
            self.app.call_from_thread(self._show_error, str(exc))
            return
        self.app.call_from_thread(self._show_result, result)

    def _show_error(self, message: str) -> None:
        self.error = message
        self.query_one("#path-verdict", Static).update(Text(plain(message), style="bold red"))

    def _show_result(self, result: PathResult) -> None:
        self.result = result
        title = Text(end="", no_wrap=True, overflow="ellipsis")
        title.append("Path ", style="bold")
        title.append(f"{plain(result.source)} → {plain(result.destination)}: ")
        title.append(plain(result.packet.describe()))
        if self.mesh_task:
            title.append(f" (task {plain(self.mesh_task)})")
        self.query_one("#path-title", Static).update(title)
        self.query_one("#path-verdict", Static).update(verdict_text(result))
        hops = self.query_one(OptionList)
        options: list[Option] = []
        self.hops = []
        for n, hop in enumerate(result.hops, 1):
            options.append(Option(hop_text(n, hop, n == len(result.hops) and not result.reply)))
            self.hops.append(hop)
        if result.reply:
            heading = Text(f"  reply: {plain(result.reply_verdict)}", style="bold")
            options.append(Option(heading, disabled=True))
            self.hops.append(Hop("reply", ""))
            for n, hop in enumerate(result.reply, 1):
                options.append(Option(hop_text(n, hop, n == len(result.reply))))
                self.hops.append(hop)
        hops.set_options(options)
        hops.highlighted = 0 if options else None
        hops.focus()

    @on(OptionList.OptionHighlighted, "#path-hops")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        analysis = self.analysis
        if event.option_index >= len(self.hops) or analysis is None:
            return
        hop = self.hops[event.option_index]
        key = hop_key(hop, analysis.links)
        text = Text(end="")
        text.append(plain(hop.title) + "\n", style="bold")
        if hop.detail:
            text.append(plain(hop.detail) + "\n")
        if hop.rule is not None and hop.packets is not None:
            text.append(f"counters: {hop.packets} packets, {hop.bytes} bytes\n")
        text.append("\n")
        if key is None:
            text.append("this hop names no item of the read", style="italic")
        else:
            self.nx.select(key, "path")
            text.append_text(describe(key, analysis))
        self.query_one("#path-item", Static).update(text)

    @on(OptionList.OptionSelected, "#path-hops")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        """Enter on a hop (the list takes the key before the screen's binding)."""
        self.action_go()

    def path_keys(self) -> frozenset[str]:
        """Every model item the path crosses (for the map)."""
        if self.result is None:
            return frozenset()
        hops = (*self.result.hops, *self.result.reply)
        return frozenset(k for h in hops for k in (*h.keys, *((h.rule,) if h.rule else ())))

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_go(self) -> None:
        """Close and put the cursor on the selected hop's item in the pane showing it."""
        self.app.pop_screen()
        self.nx.go_to_selected()

    def action_map(self) -> None:
        """The map, with this path's items marked on it (also when it opens later)."""
        self.nx.show_path(self.path_keys())
        self.nx.action_map()
