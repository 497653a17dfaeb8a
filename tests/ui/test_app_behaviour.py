"""Sources, errors, degraded hosts, refresh by difference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netexplorer.analysis import Analysis, analyse
from netexplorer.model import Snapshot
from netexplorer.snapshot_io import SnapshotFileError, load_snapshot
from netexplorer.ui.app import create_app
from netexplorer.ui.banner import Banner
from netexplorer.ui.messages import SnapshotReady
from netexplorer.ui.pane_rows import PaneRows

from .helpers import (
    NARROW,
    NO_DOCKER,
    NO_ROOT,
    WIDE,
    container,
    cursor_to,
    demo,
    pane,
    ready,
    running,
    search,
)


def test_demo_needs_no_docker_or_root() -> None:
    app = create_app(demo=True)
    assert app.source.name.startswith("demo")
    assert app.source.produce().containers


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "is not JSON"),
        (json.dumps({"hello": 1}), "not a netexplorer snapshot"),
        (json.dumps({"schema": 99, "containers": []}), "schema 99"),
    ],
)
def test_bad_snapshot_file_is_refused_naming_file_and_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SnapshotFileError) as err:
        create_app(snapshot=path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)


def test_missing_snapshot_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotFileError, match="cannot be read"):
        create_app(snapshot=tmp_path / "nope.json")


async def test_collector_exception_becomes_a_banner_not_a_traceback() -> None:
    def broken() -> Snapshot:
        raise RuntimeError("netlink exploded")

    app = create_app(source=broken)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        banner = app.query_one(Banner)
        assert banner.display
        text = str(banner.render())
        assert "RuntimeError: netlink exploded" in text
        assert "press r" in text
        assert "Traceback" not in app.export_screenshot()


@pytest.mark.parametrize(
    ("path", "cause", "fix"),
    [
        (NO_DOCKER, "No Docker daemon answers", "systemctl start docker"),
        (NO_ROOT, "Permission denied on the Docker socket", "run netexplorer as root"),
    ],
)
async def test_degraded_host_banner_names_cause_and_fix(path: Path, cause: str, fix: str) -> None:
    app = create_app(snapshot=path)
    async with app.run_test(size=WIDE) as pilot:
        await ready(pilot)
        text = str(app.query_one(Banner).render())
        assert cause in text
        assert fix in text
        assert pane(app, "interfaces").table.keys  # the rest is still shown


async def test_new_snapshot_updates_rows_by_difference_keeping_cursor() -> None:
    snap = demo()
    async with running(snap) as (app, pilot):
        await search(pilot, "test2")
        table = pane(app, "containers").table
        test2 = container(snap, "test2").key
        assert table.cursor_key == test2
        before = {k: table.get_row_index(k) for k in table.keys}
        row_objects = {k: table.cells(k) for k in table.keys}

        later = demo()
        later.containers = [c for c in later.containers if c.name != "db"]
        container(later, "web").state = "paused"
        app.post_message(SnapshotReady(analyse(later)))
        await pilot.pause()

        names = sorted((c.name, c.id) for c in later.containers)
        assert [table.cells(k)[0].plain for k in table.keys] == [n for n, _ in names]
        assert table.cursor_key == test2
        assert app.selected == test2
        web = container(later, "web").key
        assert table.cells(web)[3].plain == "paused"
        assert table.get_row_index(test2) == before[test2] - 1
        # a row that did not change was left alone (it is not drawn again)
        test1 = container(later, "test1").key
        assert table.cells(test1) is row_objects[test1]


async def test_refresh_key_reads_the_source_again() -> None:
    calls: list[int] = []

    def source() -> Snapshot:
        calls.append(1)
        return load_snapshot(NO_DOCKER)

    app = create_app(source=source)
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        await pilot.press("r")
        await ready(pilot)
        assert len(calls) == 2


async def test_search_without_match_says_so() -> None:
    async with running(demo(), NARROW) as (app, pilot):
        before = app.selected
        await pilot.press("slash", *"nosuchthing", "enter")
        await pilot.pause()
        assert app.selected == before
        assert "no match for 'nosuchthing'" in str(app.query_one("#status").render())


async def test_help_opens_and_closes() -> None:
    async with running(demo(), NARROW) as (app, pilot):
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "Screen"


async def test_rows_added_above_the_cursor_do_not_move_it_on_screen() -> None:
    """A refresh that adds rows above the selected one (links appearing) keeps that
    row where it was on the screen: the table scrolls along."""
    import dataclasses

    snap = demo()
    async with running(snap, (80, 16)) as (app, pilot):
        await pilot.press("2")  # host interfaces: more rows than the pane shows
        table = pane(app, "interfaces").table
        for _ in range(len(table.keys) - 1):
            await pilot.press("down")
        await pilot.pause()
        assert table.scroll_y > 0
        key = table.cursor_key
        on_screen = table.cursor_row - table.scroll_y

        later = demo()
        eth0 = next(i for i in later.interfaces if i.name == "eth0")
        free = sorted(set(range(2, 100)) - {i.ifindex for i in later.interfaces})[:3]
        appeared = [dataclasses.replace(eth0, ifindex=n, name=f"dummy{n}") for n in free]
        later.interfaces = sorted([*later.interfaces, *appeared], key=lambda i: i.ifindex)
        app.post_message(SnapshotReady(analyse(later)))
        await pilot.pause()
        await pilot.pause()
        assert table.cursor_key == key
        assert table.cursor_row - table.scroll_y == on_screen


async def test_rule_column_says_nft_for_dockers_native_nftables_rules() -> None:
    """The lab with its rules replaced by the recorded docker-bridges ones (as in
    tests/unit/test_nft_native.py): their text is nft's, and the header says so."""

    from netexplorer.collect.firewall import NFTABLES
    from netexplorer.collect.firewall.nft_parse import parse_ruleset
    from netexplorer.ui.panes.rules import RulesPane

    recorded = Path(__file__).resolve().parents[1] / "recorded"
    snap = load_snapshot(recorded / "lab" / "nft.snapshot.json")
    native = recorded / "nft-native" / "netns-docker-bridges"
    doc = json.loads(native.with_suffix(".json").read_text())
    snap.rules, snap.chains, _ = parse_ruleset(doc, native.with_suffix(".txt").read_text())
    snap.firewall_backends = [NFTABLES]
    async with running(snap) as (app, pilot):
        rules = pane(app, "rules")
        assert isinstance(rules, RulesPane)

        def label() -> str:
            return dict(rules.table.columns)["rule"]

        assert label() == "Rule (summary; f: full text)"
        await pilot.press("f")
        await pilot.pause()
        assert label() == "Rule (iptables-save)"  # table nat: no rules, iptables' table
        while rules.table_name != "docker-bridges":
            await pilot.press("t")
        await pilot.pause()
        assert label() == "Rule (nft)"
        assert rules.heading() == "4 docker-bridges rules (nftables)"
        texts = [c[0].plain for c in rules.table.rows_by_key.values()]
        assert any(t.startswith("oifname vmap @filter-forward-in-jumps") for t in texts)
        await pilot.press("t")
        await pilot.pause()
        assert label() == "Rule (iptables-save)"


async def test_panes_of_a_failed_live_source_say_their_rows_are_its_last_read() -> None:
    async with running(demo()) as (app, pilot):
        containers, interfaces = pane(app, "containers"), pane(app, "interfaces")
        assert not containers.has_class("-stale")

        docker_down = demo()
        src = docker_down.source("docker")
        assert src is not None
        src.ok, src.stale, src.error = False, True, "Docker is not running"
        app.post_message(SnapshotReady(analyse(docker_down)))
        await pilot.pause()
        assert containers.has_class("-stale")
        assert str(containers.border_title).endswith("· stale: docker failed, last read shown")
        assert containers.table.keys  # the last read is still shown
        assert not interfaces.has_class("-stale")
        assert "stale" not in str(interfaces.border_title)

        back = demo()
        app.post_message(SnapshotReady(analyse(back)))
        await pilot.pause()
        assert not containers.has_class("-stale")
        assert str(containers.border_title) == "1 Containers"


async def test_details_of_a_rule_that_never_runs_say_so() -> None:
    snap = demo()
    masq = next(r for r in snap.rules if r.target == "MASQUERADE")
    masq.unreached = True  # as the nftables collector marks a chain no map leads to
    async with running(snap) as (app, pilot):
        await cursor_to(pilot, "rules", masq.key)
        details = str(app.details.body.render())
        assert details.splitlines()[1].startswith(
            f"NEVER RUNS: no base chain leads to {masq.chain}"
        )


async def test_each_read_is_analysed_once_in_a_worker_never_on_the_ui_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    import netexplorer.analysis as analysis

    threads: list[str] = []
    real = analysis.correlate

    def counted(read: Snapshot) -> object:
        threads.append(threading.current_thread().name)
        return real(read)

    monkeypatch.setattr(analysis, "correlate", counted)
    async with running(demo()) as (_, pilot):
        await search(pilot, "test1")
        await pilot.press("d", "escape")
        await pilot.pause()
    assert len(threads) == 1
    assert threads[0] != threading.main_thread().name


async def test_reads_faster_than_the_ui_are_not_queued() -> None:
    """Two reads posted before the UI shows either: the newer is shown, the older never."""
    snap = demo()
    async with running(snap) as (app, pilot):
        shown: list[object] = []
        first, second = demo(), demo()
        first.containers = [c for c in first.containers if c.name != "db"]
        second.containers = [c for c in second.containers if c.name != "web"]
        older, newer = analyse(first), analyse(second)
        containers = pane(app, "containers")
        original = containers.show_snapshot

        def spy(result: Analysis, made: PaneRows | None = None) -> None:
            shown.append(result)
            original(result, made)

        containers.show_snapshot = spy  # type: ignore[method-assign]
        app.post_ready(SnapshotReady(older, rows=app.prepare(older)))
        app.post_ready(SnapshotReady(newer, rows=app.prepare(newer)))
        await pilot.pause()
        assert app.analysis is newer
        names = [c.plain for k in pane(app, "containers").table.keys
                 for c in pane(app, "containers").table.cells(k)[:1]]  # fmt: skip
        assert "web" not in names and "db" in names
        assert shown == [newer]
