"""Which host to read: ``--host ssh://[user@]host[:port]``, ``DOCKER_HOST``, the docker context.

As the Docker CLI does: an explicit ``--host`` wins, then ``DOCKER_HOST``, then
``DOCKER_CONTEXT``, then the ``currentContext`` of ``$DOCKER_CONFIG/config.json``
(default ``~/.docker``), whose endpoint is in
``contexts/meta/<sha256 of the name>/meta.json`` at ``Endpoints.docker.Host``. Only
``ssh://`` endpoints name a remote host; anything else (``unix://``, the
``default`` context) means this host.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

#: what ssh accepts as a host (a name, IPv4, or IPv6 without brackets) and a user
_HOST = re.compile(r"^[A-Za-z0-9_.:%-]+$")
_USER = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.@-]*$")


#: the name of this host's read beside remote ones (``--local``; ``sw1@local``)
LOCAL_NAME = "local"


class TargetError(ValueError):
    """A host that cannot be used; the message says why and what is expected."""


@dataclass(frozen=True, slots=True)
class Target:
    """A remote host reached with the system ssh client."""

    host: str
    user: str | None = None
    port: int | None = None

    @property
    def label(self) -> str:
        """``user@host:port`` as the user wrote it (what panes and messages show)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{host}{port}"

    @property
    def url(self) -> str:
        """``ssh://user@host:port``: what ``ssh`` itself accepts as a destination."""
        return f"ssh://{self.label}"


def parse_target(text: str) -> Target:
    """``ssh://[user@]host[:port]``, or an ssh destination ``[user@]host`` (an alias of
    ~/.ssh/config works: ssh resolves it)."""
    raw = text.strip()
    if "://" not in raw:
        raw = "ssh://" + raw
    try:
        url = urlsplit(raw)
        port = url.port
    except ValueError as exc:
        raise TargetError(
            f"'{text}' is not a host: {exc}; expected ssh://[user@]host[:port]"
        ) from exc
    if url.scheme != "ssh":
        raise TargetError(
            f"'{text}' is not an ssh:// host; netexplorer reads remote hosts over ssh "
            "(expected ssh://[user@]host[:port])"
        )
    host = url.hostname or ""
    if not host or not _HOST.match(host) or host.startswith("-") or url.path not in ("", "/"):
        raise TargetError(f"'{text}' does not name a host; expected ssh://[user@]host[:port]")
    user = url.username
    if user is not None and not _USER.match(user):
        raise TargetError(f"'{text}': the user name '{user}' is not one ssh accepts")
    if url.password is not None:
        raise TargetError(
            f"'{text}' holds a password; netexplorer never handles passwords: use a key "
            "(ssh-agent, ~/.ssh/config)"
        )
    return Target(host, user, port)


def docker_config_dir(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME") or Path.home()) / ".docker"


def context_endpoint(name: str, config_dir: Path) -> str | None:
    """The docker endpoint of context ``name`` (None for ``default`` or a missing one)."""
    if name == "default":
        return None
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / digest / "meta.json"
    try:
        doc = json.loads(meta.read_text(encoding="utf-8"))
        host = doc["Endpoints"]["docker"]["Host"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TargetError(
            f"docker context '{name}' cannot be read ({meta}: {exc}); "
            "check it with 'docker context inspect'"
        ) from exc
    return host if isinstance(host, str) else None


def current_context(config_dir: Path, env: Mapping[str, str]) -> str | None:
    if env.get("DOCKER_CONTEXT"):
        return env["DOCKER_CONTEXT"]
    try:
        doc = json.loads((config_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = doc.get("currentContext") if isinstance(doc, dict) else None
    return name if isinstance(name, str) and name else None


def docker_target(env: Mapping[str, str] | None = None) -> Target | None:
    """The remote host DOCKER_HOST or the current docker context points at, if ssh://."""
    env = os.environ if env is None else env
    endpoint = env.get("DOCKER_HOST")
    if not endpoint:
        config_dir = docker_config_dir(env)
        name = current_context(config_dir, env)
        endpoint = context_endpoint(name, config_dir) if name else None
    if endpoint and endpoint.startswith("ssh://"):
        return parse_target(endpoint)
    return None


def pick_targets(
    hosts: list[str], hosts_file: str | None = None, env: Mapping[str, str] | None = None
) -> list[Target]:
    """The hosts named on the command line and in a hosts file (one per line, ``#``
    comments), else the one DOCKER_HOST or the docker context names; [] means this host."""
    texts = list(hosts)
    if hosts_file is not None:
        try:
            lines = Path(hosts_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TargetError(f"hosts file {hosts_file} cannot be read: {exc}") from exc
        texts += [ln.split("#", 1)[0].strip() for ln in lines]
    targets = [parse_target(t) for t in texts if t]
    if targets or hosts_file is not None:
        return list(dict.fromkeys(targets))
    one = docker_target(env)
    return [one] if one else []
