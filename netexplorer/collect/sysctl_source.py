"""The few kernel settings that decide whether containers' packets get through.

Read from ``/proc/sys`` (plain files, no subprocess, no root needed). A setting
whose file does not exist is left out of the result: ``net.bridge.*`` exist only
while the ``br_netfilter`` module is loaded, and that absence is itself a fact
(``netexplorer.doctor`` uses it). Nothing is ever written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from netexplorer.collect.errors import SourceError

#: what is read, in this order
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
)
PROC_SYS = Path("/proc/sys")


@dataclass(slots=True)
class SysctlData:
    values: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def sysctl_path(name: str, root: Path = PROC_SYS) -> Path:
    """``net.ipv4.ip_forward`` -> ``/proc/sys/net/ipv4/ip_forward``."""
    return root.joinpath(*name.split("."))


def collect_sysctls(root: Path = PROC_SYS, names: tuple[str, ...] = SYSCTLS) -> SysctlData:
    """Read ``names`` under ``root``; SourceError if ``root`` itself is not there."""
    if not root.is_dir():
        raise SourceError(
            f"{root} is not mounted, so kernel settings such as net.ipv4.ip_forward "
            "cannot be read; mount procfs (mount -t proc proc /proc)."
        )
    data = SysctlData()
    for name in names:
        path = sysctl_path(name, root)
        try:
            data.values[name] = path.read_text(encoding="ascii", errors="replace").strip()
        except FileNotFoundError:
            continue  # e.g. net.bridge.* without br_netfilter, IPv6 disabled
        except OSError as exc:
            data.warnings.append(f"cannot read {path}: {exc.strerror or exc}")
    return data
