"""Which host is read: --host URLs, DOCKER_HOST, and docker contexts written by the
real docker CLI (``docker context create`` into a DOCKER_CONFIG of the test's own)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from netexplorer.remote.ssh import remote_command, ssh_command
from netexplorer.remote.target import Target, TargetError, docker_target, parse_target, pick_targets


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("ssh://root@10.0.0.5:2222", Target("10.0.0.5", "root", 2222)),
        ("ssh://web1", Target("web1")),
        ("ops@web1", Target("web1", "ops")),
        ("ssh://[fd00::5]:22", Target("fd00::5", None, 22)),
    ],
)
def test_parse_target(text: str, target: Target) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("tcp://10.0.0.5:2375", "not an ssh:// host"),
        ("ssh://-oProxyCommand=x", "does not name a host"),
        ("ssh://root:secret@web1", "never handles passwords"),
        ("ssh://web1:99999", "not a host"),
        ("ssh://web1/path", "does not name a host"),
        ("ssh://a b", "does not name a host"),
    ],
)
def test_bad_targets_are_said_in_words(text: str, words: str) -> None:
    with pytest.raises(TargetError, match=words):
        parse_target(text)


def test_label_and_url_are_what_ssh_accepts() -> None:
    t = Target("fd00::5", "root", 22)
    assert (t.label, t.url) == ("root@[fd00::5]:22", "ssh://root@[fd00::5]:22")


def test_ssh_command_never_asks_for_a_password_and_ends_options() -> None:
    cmd = ssh_command(Target("web1", "ops", 2222), sudo=True, env={"NETEXPLORER_SSH": "ssh -F x"})
    assert cmd[:3] == ["ssh", "-F", "x"]
    assert "BatchMode=yes" in cmd
    assert cmd[-3:-1] == ["--", "web1"]
    assert cmd[-1].endswith('exec sudo -n -- "$p" --interval 2 agent')
    assert cmd[cmd.index("-p") + 1] == "2222" and cmd[cmd.index("-l") + 1] == "ops"
    assert remote_command(False, 0.5, True) == "netexplorer --interval 0.5 agent --once"
    assert ssh_command(Target("h"), env={"NETEXPLORER_REMOTE": "/opt/v/bin/netexplorer"})[-1] == (
        "/opt/v/bin/netexplorer --interval 2 agent"
    )


def test_docker_host_ssh_is_a_target_and_unix_is_this_host() -> None:
    assert docker_target({"DOCKER_HOST": "ssh://ops@web1:2200", "HOME": "/nonexistent"}) == (
        Target("web1", "ops", 2200)
    )
    assert docker_target({"DOCKER_HOST": "unix:///var/run/docker.sock"}) is None


def test_hosts_file_and_repeated_hosts(tmp_path: Path) -> None:
    f = tmp_path / "hosts"
    f.write_text("# fleet\nssh://web1\n\nops@web2  # db\nssh://web1\n")
    assert pick_targets(["web3"], str(f), env={}) == [
        Target("web3"),
        Target("web1"),
        Target("web2", "ops"),
    ]
    with pytest.raises(TargetError, match="cannot be read"):
        pick_targets([], str(tmp_path / "missing"), env={})


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI")
def test_current_docker_context_made_by_the_docker_cli(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def docker(*args: str) -> None:
        subprocess.run(["docker", *args], env=env, check=True, capture_output=True, timeout=30)

    docker("context", "create", "fleet-a", "--docker", "host=ssh://ops@web1:2200")
    docker("context", "create", "local", "--docker", "host=unix:///var/run/docker.sock")
    assert docker_target(env) is None  # no current context yet: this host
    docker("context", "use", "fleet-a")
    assert docker_target(env) == Target("web1", "ops", 2200)
    assert pick_targets(["ssh://other"], env=env) == [Target("other")]  # --host wins
    assert docker_target({**env, "DOCKER_HOST": "unix:///run/docker.sock"}) is None
    assert docker_target({**env, "DOCKER_CONTEXT": "local"}) is None
    docker("context", "use", "local")
    assert docker_target(env) is None
    assert docker_target({**env, "DOCKER_CONTEXT": "default"}) is None
