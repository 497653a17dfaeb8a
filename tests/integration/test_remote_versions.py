"""Another netexplorer on the remote, for real: builds of other commits installed
beside this one and put on the PATH the throwaway sshd gives a key's sessions.

    older    commit 844358c, the first with ``netexplorer agent``: same protocol and
             schema number, but its snapshot lacks fields this one reads (routes,
             ip rules, the containers' own netns) and its hello does not list them;
             pip-installed from ``git archive`` of that commit
    newer    this checkout with the snapshot schema one higher
    ancient  commit 77fd523, before remote support: no ``agent`` subcommand

A clone without those commits (shallow) gets stand-ins made from this checkout
instead, with the one difference that matters: ``older``'s hello lists no fields (as
844358c's), ``ancient`` has no ``agent`` subcommand.

The "hosts" are aliases of 127.0.0.1 whose ssh key selects the build (ssh -F config,
benchmarks/sshd.py). A user made for the test runs them under ``sudo -n`` (root's
own shell rc may put another netexplorer first in its PATH); both are removed
afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from benchmarks.sshd import SYSTEM_PATH, ThrowawaySshd
from integration import groundtruth as gt
from integration.test_remote import cli, made_user, sshd  # noqa: F401  (the sshd fixture)
from netexplorer.model import SCHEMA_VERSION

OLDER = "844358cb30e1541fd89829aa283652142727f9b9"
ANCIENT = "77fd5231f574b5b7efe10471566974574365378e"
BUILDS = ("current", "older", "newer", "ancient")

Run = Callable[..., tuple[CompletedProcess[str], list[str]]]


def wrapper(bin_dir: Path, lib: Path) -> Path:
    """``bin_dir/netexplorer``: this interpreter (it has the dependencies) running the
    netexplorer package found first in ``lib``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "netexplorer"
    script.write_text(f'#!/bin/sh\nPYTHONPATH={lib} exec {sys.executable} -m netexplorer "$@"\n')
    script.chmod(0o755)
    return bin_dir


def archive(commit: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    tar = subprocess.run(
        ["git", "-C", str(gt.REPO), "archive", commit], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    return dest


def in_history(commit: str) -> bool:
    return (
        subprocess.run(
            ["git", "-C", str(gt.REPO), "cat-file", "-e", f"{commit}^{{commit}}"],
            capture_output=True,
        ).returncode
        == 0
    )


def this_checkout_changed(lib: Path, path: str, old: str, new: str) -> Path:
    """This checkout's package copied to ``lib``, with ``old`` replaced in ``path``."""
    shutil.copytree(gt.REPO / "netexplorer", lib / "netexplorer")
    source = lib / "netexplorer" / path
    text = source.read_text()
    assert old in text, (path, old)
    source.write_text(text.replace(old, new, 1))
    return lib


def build_older(root: Path) -> Path:
    """Commit OLDER installed with pip (without its dependencies: this venv's serve)."""
    if not in_history(OLDER):
        lib = this_checkout_changed(
            root / "older-lib",
            "remote/protocol.py",
            "field(default_factory=schema_fields)",
            "None",
        )
        return wrapper(root / "older-bin", lib)
    src, lib = archive(OLDER, root / "older-src"), root / "older-lib"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(lib), str(src)],
        check=True,
        timeout=600,
    )
    return wrapper(root / "older-bin", lib)


def build_newer(root: Path) -> Path:
    """This checkout's package with SCHEMA_VERSION one higher."""
    line = f"SCHEMA_VERSION = {SCHEMA_VERSION}\n"
    lib = this_checkout_changed(
        root / "newer-lib", "model.py", line, f"SCHEMA_VERSION = {SCHEMA_VERSION + 1}\n"
    )
    return wrapper(root / "newer-bin", lib)


def build_ancient(root: Path) -> Path:
    """Commit ANCIENT as it is (its package found first on PYTHONPATH)."""
    if in_history(ANCIENT):
        return wrapper(root / "ancient-bin", archive(ANCIENT, root / "ancient-src"))
    lib = this_checkout_changed(root / "ancient-lib", "cli.py", '"agent",', '"no-agent",')
    return wrapper(root / "ancient-bin", lib)


@pytest.fixture(scope="module")
def builds(sshd: ThrowawaySshd) -> Iterator[dict[str, str]]:  # noqa: F811
    """A key per build, whose sessions find that build first in their PATH."""
    root = Path(tempfile.mkdtemp(prefix="nx-builds-"))
    root.chmod(0o755)
    try:
        bins = {
            "current": Path(sys.executable).parent,
            "older": build_older(root),
            "newer": build_newer(root),
            "ancient": build_ancient(root),
        }
        for name, bin_dir in bins.items():
            sshd.key(name, f"{bin_dir}:{SYSTEM_PATH}")
        yield {name: f"{name}.nx" for name in bins}
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def run(sshd: ThrowawaySshd, builds: dict[str, str]) -> Iterator[Run]:  # noqa: F811
    """``netexplorer ARGS --host …`` with one host per build named in ``hosts``, as a
    user allowed ``sudo -n`` (``--remote-sudo``)."""
    ssh = {"NETEXPLORER_SSH": sshd.ssh_command("stranger", {builds[b]: b for b in BUILDS})}
    with made_user("nxv", "NOPASSWD: ALL") as user:

        def run(*args: str, hosts: tuple[str, ...]) -> tuple[CompletedProcess[str], list[str]]:
            labels = [f"{user}@{builds[h]}:{sshd.port}" for h in hosts]
            urls = [a for label in labels for a in ("--host", f"ssh://{label}")]
            return cli(*args, *urls, "--remote-sudo", ssh=ssh), labels

        yield run


def test_the_same_build_reads_the_lab(run: Run) -> None:
    proc, _ = run("snapshot", hosts=("current",))
    assert proc.returncode == 0, proc.stderr
    assert "test1" in proc.stdout and "docker0" in proc.stdout


def test_an_older_remote_is_refused_in_words_and_the_other_host_still_shown(run: Run) -> None:
    proc, (current, older) = run("doctor", hosts=("current", "older"))
    assert proc.returncode == 5, proc.stderr  # the worst of the two
    assert f"== {current}\n" in proc.stdout and f"== {older}\n" in proc.stdout
    section = proc.stdout.split(f"== {current}\n")[1].split("== ")[0]
    assert section.strip()  # the current host's findings (or "no problem found")
    assert (
        f"netexplorer: {older}: incompatible version: its netexplorer 0.1.0 is older than "
        "this one (0.1.0): its snapshots lack fields this one reads (it does not list them). "
        f"Install the same version on both: on {older}, 'pip install netexplorer==0.1.0' "
        "(from a checkout: this commit).\n"
    ) in proc.stderr
    assert current not in proc.stderr and "Traceback" not in proc.stderr


def test_a_newer_schema_on_the_remote_says_to_upgrade_here(run: Run) -> None:
    proc, (host,) = run("snapshot", "--json", hosts=("newer",))
    assert proc.returncode == 5 and not proc.stdout
    assert proc.stderr == (
        f"netexplorer: {host}: incompatible version: its netexplorer 0.1.0 is newer than "
        f"this one (0.1.0): it writes snapshot schema {SCHEMA_VERSION + 1}, this one reads "
        f"{SCHEMA_VERSION}. Install the same version on both: here, 'pip install "
        f"netexplorer==0.1.0' (from a checkout: the commit on {host}).\n"
    )


def test_a_remote_without_the_agent_says_to_upgrade_it(run: Run) -> None:
    proc, _ = run("snapshot", hosts=("ancient",))
    assert proc.returncode == 5
    assert "its netexplorer is too old to have 'netexplorer agent'" in proc.stderr
    assert "pip install netexplorer --upgrade" in proc.stderr
