"""The netfilter tables inside other network namespaces: the swarm routing mesh's.

A published swarm port is handled in three namespaces besides the host's:
``ingress_sbox`` (mangle ``MARK`` of the port, nat ``SNAT`` of what IPVS sends
on), each ``lb_<id>`` (the same for an overlay's virtual IPs) and each service
task's own (nat ``REDIRECT`` of the published port to the target port, filter
rules admitting only that). Their tables are listed by the same save tools as
the host's, run inside the namespace: a thread of its own enters it with
setns(2), starts ``iptables-nft-save -c`` and ``ip6tables-nft-save -c`` where
that family has an nftables table there (asked over netlink first), the
``-legacy-save`` ones where ``/proc/thread-self/net/ip_tables_names`` lists
legacy tables, which inherit the thread's namespace, reads the namespace's
IPVS table (``/proc/thread-self/net/ip_vs``: the counters move with the rules'),
and ends after the read, so no other code ever runs there. The texts are parsed
by :mod:`.iptables_save` with ``netns`` set. Listing changes nothing.

Faults are words per namespace: a namespace that vanished or cannot be entered
(``error``), a save tool missing or failing (``problems``); the other namespaces
and backends are still read.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from netexplorer.collect.errors import SourceError
from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.collect.firewall.legacy import legacy_table_names
from netexplorer.collect.firewall.nft import parse_nft_save
from netexplorer.collect.firewall.tool import run_listing
from netexplorer.collect.overlay_source import ipvs_table
from netexplorer.collect.rtnl_socket import in_own_thread, setns_net
from netexplorer.model import LEGACY, NFT, Chain, Rule

FAMILIES = ("ipv4", "ipv6")
#: the save tool of each (backend, family)
SAVE_TOOLS = {
    (NFT, "ipv4"): "iptables-nft-save",
    (NFT, "ipv6"): "ip6tables-nft-save",
    (LEGACY, "ipv4"): "iptables-legacy-save",
    (LEGACY, "ipv6"): "ip6tables-legacy-save",
}
#: nftables' family number (``nfgen_family``) of the tables each family's tool lists
NFPROTO = {"ipv4": 2, "ipv6": 10}
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
#: what a namespace's thread lists: (backend, family, save tool text or the fault)
Listing = tuple[str, str, str | SourceError]
T = TypeVar("T")


@dataclass(slots=True)
class NetnsTables:
    """The rules and chains read in one namespace, and what went wrong there."""

    #: the namespace as ``Rule.netns`` names it (``ingress_sbox``, ``ct:<id>``)
    netns: str
    rules: list[Rule] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    #: a save tool missing or failing, lines skipped: sentences
    problems: list[str] = field(default_factory=list)
    #: the namespace could not be entered (vanished, not root): a sentence
    error: str | None = None
    #: ``/proc/net/ip_vs`` as read there with the rules; None: no IPVS in the kernel
    #: (or the namespace was not entered)
    ipvs: str | None = None


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN))


def _missing(name: str) -> SourceError:
    return SourceError(
        f"{name} was not found; install the Debian package 'iptables' (apt-get install iptables)."
    )


def _nft_families() -> frozenset[int] | None:
    """The nftables families (``nfgen_family``) that hold a table in the namespace
    the calling thread is in, asked over netlink (the socket belongs to the thread's
    namespace); None where that cannot be asked, and every nft tool runs."""
    try:
        from netexplorer.collect import pyroute2_lazy

        pyroute2_lazy.install()
        from pyroute2.nftables.main import NFTables

        nft = NFTables()
        try:
            return frozenset(int(m["nfgen_family"]) for m in nft.get_tables())
        finally:
            nft.close()
    except Exception:  # no nf_tables, a refused socket: the tools will say it
        return None


def _list_inside(tools: dict[tuple[str, str], str | None]) -> list[Listing]:
    """In the namespace the calling thread is in: each save tool's text (an nft one
    where that family has an nftables table, a legacy one where it has legacy
    tables). A family without a table gets the empty text its save tool prints
    there, without starting it: most mesh namespaces have IPv4 tables only, and
    the live view lists them at every firewall poll."""
    out: list[Listing] = []
    present = _nft_families()
    for (backend, family), binary in tools.items():
        if backend == LEGACY and not legacy_table_names(family, "/proc/thread-self/net"):
            continue
        if binary is None:
            out.append((backend, family, _missing(SAVE_TOOLS[backend, family])))
            continue
        if backend == NFT and present is not None and NFPROTO[family] not in present:
            out.append((backend, family, ""))
            continue
        try:
            out.append((backend, family, run_listing(binary, "-c", rules="firewall")))
        except SourceError as err:
            out.append((backend, family, err))
    return out


def _entered(path: str, work: Callable[[], T]) -> T:
    """``work`` run in the namespace at ``path`` by this thread, which then returns
    to its own; run it in a thread of its own (:func:`in_own_thread`)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns_net(fd)
        finally:
            os.close(fd)
        try:
            return work()
        finally:
            try:
                setns_net(home)
            except OSError as exc:
                # the thread ends here, so nothing else runs in the wrong namespace
                raise SourceError(
                    f"cannot return to the host's network namespace after entering {path} "
                    f"({exc.strerror or exc})"
                ) from exc
    finally:
        os.close(home)


def _why_not(netns: str, path: str, exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return f"namespace {netns} ({path}) vanished before its netfilter tables were read"
    if exc.errno in (errno.EPERM, errno.EACCES):
        return (
            f"permission denied entering namespace {netns} ({path}): reading its netfilter "
            "tables needs root (CAP_SYS_ADMIN); run netexplorer with sudo."
        )
    return f"namespace {netns} ({path}) could not be entered: {exc.strerror or exc}"


def parse_listings(netns: str, listings: Sequence[Listing]) -> NetnsTables:
    """One namespace's save texts (or their faults) -> its rules and chains. Pure."""
    out = NetnsTables(netns)
    for backend, family, text in listings:
        if isinstance(text, SourceError):
            out.problems.append(f"{backend} {family} rules in {netns} were not read: {text}")
            continue
        if backend == NFT:
            rules, chains, problems = parse_nft_save(text, family, netns)
        else:
            rules, chains, problems = parse_iptables_save_with_problems(
                text, backend, family, netns
            )
        out.rules += rules
        out.chains += chains
        out.problems += problems
    return out


def read_one(netns: str, path: str, tools: dict[tuple[str, str], str | None]) -> NetnsTables:
    """The tables of the namespace at ``path``, named ``netns`` in the model."""
    try:
        listings, ipvs = in_own_thread(
            lambda: _entered(path, lambda: (_list_inside(tools), ipvs_table()))
        )
    except OSError as exc:
        return NetnsTables(netns, error=_why_not(netns, path, exc))
    except SourceError as exc:
        return NetnsTables(netns, error=f"namespace {netns}: {exc}")
    out = parse_listings(netns, listings)
    out.ipvs = ipvs
    return out


def read_netns_tables(
    targets: Sequence[tuple[str, str]], families: Sequence[str] = FAMILIES
) -> dict[str, NetnsTables]:
    """Each target's tables, by its name: ``targets`` are (name as ``Rule.netns``
    names it, path of the namespace: ``/var/run/docker/netns/ingress_sbox``,
    ``/proc/<pid>/ns/net``), read side by side."""
    if not targets:
        return {}
    tools = {
        (backend, family): _tool(SAVE_TOOLS[backend, family])
        for backend in (NFT, LEGACY)
        for family in families
    }
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        found = list(pool.map(lambda t: read_one(t[0], t[1], tools), targets))
    return {t.netns: t for t in found}
