"""Read the iptables-legacy (x_tables) backend through python-iptables (``iptc``).

libiptc only sees legacy tables, and opening a table that does not exist makes
the kernel load (and so create) it. So the tables to read are taken from
``/proc/net/ip_tables_names`` / ``ip6_tables_names`` (per network namespace),
and only those are opened, read-only (never committed).

Each rule is turned into the exact line ``iptables-legacy-save -c`` prints:
the address/interface/protocol part is formatted here from the kernel entry,
the matches and the target by their own xtables ``save`` functions (reached
through iptc), whose output is caught from C ``stdout``. The text is then parsed
by :mod:`.iptables_save`, so both backends fill the model the same way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib
import importlib.util
import os
import shutil
import socket
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from netexplorer.collect.errors import SourceError
from netexplorer.collect.firewall.iptables_save import parse_iptables_save_with_problems
from netexplorer.model import LEGACY, Chain, Rule

BACKEND = LEGACY
#: what the python-iptables formatter writes for an extension it cannot find
UNSUPPORTED = "[unsupported revision]"
FAMILIES = ("ipv4", "ipv6")
_NAMES_FILE = {"ipv4": "ip_tables_names", "ipv6": "ip6_tables_names"}
#: iptc's caches and the swapped C stdout are process-wide: one reader at a time
_LOCK = threading.Lock()

# flag bits of struct ipt_ip / ip6t_ip6 (linux/netfilter_ipv{4,6}/ip{,6}_tables.h)
_F_FRAG = 0x01  # ipv4 only
_F_GOTO = {"ipv4": 0x02, "ipv6": 0x04}
_INV_VIA_IN, _INV_VIA_OUT, _INV_SRCIP, _INV_DSTIP, _INV_FRAG, _INV_PROTO = (
    0x01,
    0x02,
    0x08,
    0x10,
    0x20,
    0x40,
)
#: xtables_chain_protos of libxtables: names used when /etc/protocols has none
_CHAIN_PROTOS = {6: "tcp", 132: "sctp", 17: "udp", 136: "udplite", 1: "icmp", 58: "ipv6-icmp"}
_CHAIN_PROTOS.update({50: "esp", 51: "ah", 135: "mh", 0: "all"})


def legacy_table_names(family: str, proc_net: str = "/proc/net") -> list[str]:
    """The legacy tables that exist in this netns for ``family``, in kernel order.

    A missing or empty file means there are none (ip_tables not in use).
    """
    try:
        with open(os.path.join(proc_net, _NAMES_FILE[family])) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []
    except PermissionError as err:
        raise SourceError(f"Cannot read {err.filename}: permission denied; run as root.") from err


def read_legacy(
    families: tuple[str, ...] = FAMILIES,
) -> tuple[list[Rule], list[Chain], list[str]]:
    """Rules, chains and problems (in words) of the legacy backend.

    Raises SourceError when not root or when python-iptables cannot be loaded
    while legacy tables exist. No legacy tables: empty result, no error.
    """
    _require_root()
    rules: list[Rule] = []
    chains: list[Chain] = []
    problems: list[str] = []
    for family in families:
        tables = legacy_table_names(family)
        if not tables:
            continue
        text, save_problems = legacy_save_text(family, tables)
        if UNSUPPORTED in text:
            text, save_problems = _save_tool_text(family), []
        r, c, p = parse_iptables_save_with_problems(text, BACKEND, family)
        rules += r
        chains += c
        problems += save_problems + p
    return rules, chains, problems


def _save_tool_text(family: str) -> str:
    """The family's rules from ``ip{6}tables-legacy-save -c`` (one process per family).

    libxtables registers an extension that both families share (libxt_*.so, e.g.
    MASQUERADE) only for the family whose tables a process reads first: its
    constructor runs once and drops the other family's half. Rules of the second
    family using such an extension cannot be formatted through python-iptables in
    the same process, so that family is listed by the save tool instead.
    """
    from netexplorer.collect.firewall.tool import run_listing

    name = "iptables-legacy-save" if family == "ipv4" else "ip6tables-legacy-save"
    binary = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if binary is None:
        raise SourceError(
            f"Cannot read {family} iptables-legacy rules: {name} was not found; "
            "install the Debian package 'iptables' (apt-get install iptables)."
        )
    return run_listing(binary, "-c", rules="firewall")


def legacy_save_text(family: str, tables: list[str] | None = None) -> tuple[str, list[str]]:
    """The ``iptables-legacy-save -c`` text (without its ``#`` lines) of ``family``."""
    _require_root()
    if tables is None:
        tables = legacy_table_names(family)
    iptc = import_iptc()
    table_class = iptc.Table if family == "ipv4" else iptc.Table6
    lines: list[str] = []
    problems: list[str] = []
    with _LOCK:
        for name in tables:
            lines += _read_table(table_class, name, family, problems)
    return "".join(line + "\n" for line in lines), problems


def _read_table(table_class: Any, name: str, family: str, problems: list[str]) -> list[str]:
    try:
        table = table_class(name, autocommit=False)
        table.refresh()  # iptc caches tables per name: re-read the kernel's
    except Exception as err:  # iptc raises IPTCError and plain Exceptions
        problems.append(f"{BACKEND} {family}: cannot read table {name}: {err}")
        return []
    return _table_lines(table, family, problems)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise SourceError(
            "Reading firewall rules needs root (CAP_NET_ADMIN); run netexplorer with sudo."
        )


# --------------------------------------------------------------------------- iptc loading
def xtables_libdir() -> str | None:
    """The directory of the xtables extensions (libxt_*.so), or None."""
    candidates = []
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        candidates.append(f"/usr/lib/{multiarch}/xtables")
    candidates += sorted(glob.glob("/usr/lib/*-linux-*/xtables"))
    candidates += ["/usr/lib/xtables", "/usr/lib64/xtables", "/lib/xtables", "/usr/libexec/xtables"]
    for path in candidates:
        if os.path.exists(os.path.join(path, "libxt_standard.so")):
            return path
    return None


def legacy_tables_exist(proc_net: str = "/proc/net") -> bool:
    """Whether this netns has any legacy (x_tables) table, in either family.

    Unreadable files count as "maybe": the reader then says why in words.
    """
    try:
        return any(legacy_table_names(family, proc_net) for family in FAMILIES)
    except SourceError:
        return True


def _library_dirs() -> list[str]:
    """Where python-iptables should look for its libraries, searched by path.

    Its own C helper (libxtwrapper) sits beside the package, the system's
    libxtables/libip4tc/libip6tc in the multiarch directory that holds the xtables
    extensions. Searched by path, none of them costs a ``gcc``/``ld`` probe of
    ctypes.util.find_library (~50 ms each).
    """
    dirs: list[str] = []
    spec = importlib.util.find_spec("iptc")
    if spec is not None and spec.submodule_search_locations:
        dirs += [os.path.dirname(p) for p in spec.submodule_search_locations]
    xtables = os.environ.get("XTABLES_LIBDIR") or xtables_libdir()
    if xtables:
        dirs.append(os.path.dirname(xtables.split(":")[0]))
    return list(dict.fromkeys(dirs))


def _xtables_soversion(libdirs: list[str]) -> str | None:
    """The major version of the libxtables found in ``libdirs`` (``12``), or None."""
    for libdir in libdirs:
        for path in sorted(glob.glob(os.path.join(libdir, "libxtables.so.*"))):
            major = path.rsplit(".so.", 1)[1].split(".")[0]
            if major.isdigit():
                return major
    return None


def import_iptc() -> ModuleType:
    """Import python-iptables without side effects, or raise SourceError.

    iptc runs ``modprobe ip_tables``/``ip6_tables`` on import; its
    ``util.load_kernel`` is replaced by a no-op before the package body runs.
    XTABLES_LIBDIR and IPTABLES_LIBDIR are set (unless already set) so that iptc
    finds the extensions and its libraries by path instead of asking ldconfig and
    gcc, and ``distutils`` is kept out (iptc falls back to ``sysconfig``): through
    setuptools it would pull in ``pkg_resources`` (~0.15 s).
    """
    if "iptc.ip6tc" in sys.modules:
        return sys.modules["iptc"]
    if not os.environ.get("XTABLES_LIBDIR"):
        libdir = xtables_libdir()
        if libdir:
            os.environ["XTABLES_LIBDIR"] = libdir
    spec = importlib.util.find_spec("iptc")
    assert spec is not None and spec.loader is not None  # python-iptables: a dependency
    libdirs = _library_dirs()
    if not os.environ.get("IPTABLES_LIBDIR") and libdirs:
        os.environ["IPTABLES_LIBDIR"] = ":".join(libdirs)
    soversion = _xtables_soversion(libdirs)
    if not os.environ.get("PYTHON_IPTABLES_XTABLES_VERSION") and soversion:
        os.environ["PYTHON_IPTABLES_XTABLES_VERSION"] = soversion
    package = importlib.util.module_from_spec(spec)
    sys.modules["iptc"] = package
    blocked = "distutils" not in sys.modules
    if blocked:
        sys.modules["distutils"] = None  # type: ignore[assignment]
    try:
        util = importlib.import_module("iptc.util")
        setattr(util, "load_kernel", _no_modprobe)  # noqa: B010 - untyped module
        spec.loader.exec_module(package)
    except Exception as err:
        for name in [m for m in sys.modules if m == "iptc" or m.startswith("iptc.")]:
            del sys.modules[name]
        raise SourceError(
            f"Cannot read iptables-legacy rules: python-iptables failed to load ({err}). "
            "Install the libraries with 'apt-get install libip4tc2 libip6tc2 libxtables12' "
            "and, if the xtables extensions are elsewhere, set XTABLES_LIBDIR "
            "(e.g. /usr/lib/x86_64-linux-gnu/xtables)."
        ) from err
    finally:
        if blocked:
            del sys.modules["distutils"]
    return package


def _no_modprobe(name: str, exc_if_failed: bool = False) -> None:
    """Stand-in for iptc.util.load_kernel: a reader must not load kernel modules."""


# --------------------------------------------------------------------------- formatting
def _table_lines(table: Any, family: str, problems: list[str]) -> list[str]:
    lines = [f"*{table.name}"]
    chain_names = [chain.name for chain in table.chains]
    for name in chain_names:
        if table.builtin_chain(name):
            policy, (packets, nbytes) = table.get_policy(name)
            lines.append(f":{name} {policy.name} [{packets}:{nbytes}]")
        else:
            lines.append(f":{name} - [0:0]")
    for name in chain_names:
        entry = table.first_rule(name)
        while entry:
            packets, nbytes = entry.counters.pcnt, entry.counters.bcnt
            try:
                text = rule_text(table, name, entry, family)
            except Exception as err:  # a broken extension must not stop the read
                problems.append(f"{BACKEND} {family} {table.name} {name}: unreadable rule: {err}")
                text = f"-A {name} [unreadable rule]"
            lines.append(f"[{packets}:{nbytes}] {text}")
            entry = table.next_rule(entry)
    lines.append("COMMIT")
    return lines


def rule_text(table: Any, chain: str, entry: Any, family: str) -> str:
    """One kernel entry as iptables-save prints it (``-A CHAIN ...``)."""
    ip = entry.ip if family == "ipv4" else entry.ipv6
    raw = bytes(ip)
    inv = ip.invflags
    parts = [f"-A {chain}"]
    parts += _address("s", _field(ip, raw, "src"), _field(ip, raw, "smsk"), inv & _INV_SRCIP)
    parts += _address("d", _field(ip, raw, "dst"), _field(ip, raw, "dmsk"), inv & _INV_DSTIP)
    parts += _iface("i", _field(ip, raw, "iniface"), _field(ip, raw, "iniface_mask"), inv & 1)
    parts += _iface("o", _field(ip, raw, "outiface"), _field(ip, raw, "outiface_mask"), inv & 2)
    if ip.proto:
        parts.append(f"{' !' if inv & _INV_PROTO else ''} -p {_proto_name(ip.proto)}")
    if family == "ipv4" and ip.flags & _F_FRAG:
        parts.append(f"{' !' if inv & _INV_FRAG else ''} -f")
    xt = _xtables(family)
    offset = ctypes.sizeof(type(entry))
    while offset < entry.target_offset:
        match = ctypes.cast(ctypes.byref(entry, offset), ctypes.POINTER(_iptc_xt().xt_entry_match))
        user = match[0].u.user
        module = _find_module(xt.find_match, user.name.decode(), user.revision)
        parts.append(_extension(xt, "-m", user.name.decode(), module, ip, match))
        if match[0].u.match_size == 0:
            raise ValueError("match of size 0")
        offset += match[0].u.match_size
    target = ctypes.cast(
        ctypes.byref(entry, entry.target_offset), ctypes.POINTER(_iptc_xt().xt_entry_target)
    )
    user = target[0].u.user
    if user.name:
        module = _find_module(xt.find_target, user.name.decode(), user.revision)
        parts.append(_extension(xt, "-j", user.name.decode(), module, ip, target))
    else:
        verdict = table.get_target(entry)
        verdict = verdict.decode() if isinstance(verdict, bytes) else verdict or ""
        if verdict:
            parts.append(f" -{'g' if ip.flags & _F_GOTO[family] else 'j'} {verdict}")
    return "".join(parts)


def _iptc_xt() -> ModuleType:
    return sys.modules["iptc.xtables"]


def _xtables(family: str) -> Any:
    xt = _iptc_xt()
    return xt.xtables(xt.NFPROTO_IPV4 if family == "ipv4" else xt.NFPROTO_IPV6)


def _find_module(find: Callable[[str], Any], name: str, revision: int) -> Any:
    """The xtables extension ``name`` of exactly ``revision``, or None."""
    found = find(name)
    module = found[0] if found else None
    while module is not None:
        if module.name.decode() == name and module.revision == revision:
            return module
        module = module.next[0] if module.next else None
    return None


def _extension(xt: Any, option: str, name: str, module: Any, ip: Any, ptr: Any) -> str:
    """`` -m name ...`` / `` -j NAME ...`` as iptables-save prints a match/target."""
    if module is None:
        return f" {option} {name} {UNSUPPORTED}"
    alias = getattr(module, "alias", None)
    shown = alias(ptr).decode() if alias else name
    saved = ""
    if module.save:
        saved = _c_stdout_of(lambda: xt.save(module, ip, ptr)).rstrip("\n")
    return f" {option} {shown}{saved}"


def _field(ip: Any, raw: bytes, name: str) -> bytes:
    desc = getattr(type(ip), name)
    return raw[desc.offset : desc.offset + desc.size]


def _address(letter: str, addr: bytes, mask: bytes, invert: int) -> list[str]:
    af = socket.AF_INET if len(addr) == 4 else socket.AF_INET6
    bits = int.from_bytes(mask, "big")
    width = len(mask) * 8
    ones = bin(bits).count("1")
    contiguous = bits == ((1 << width) - 1) ^ ((1 << (width - ones)) - 1)
    if af == socket.AF_INET and not bits and not invert and not any(addr):
        return []
    if af == socket.AF_INET6 and not bits and not invert:
        return []
    suffix = str(ones) if contiguous else socket.inet_ntop(af, mask)
    neg = " !" if invert else ""
    return [f"{neg} -{letter} {socket.inet_ntop(af, addr)}/{suffix}"]


def _iface(letter: str, name: bytes, mask: bytes, invert: int) -> list[str]:
    if not mask[0]:
        return []
    out = bytearray()
    for i in range(len(mask)):
        if mask[i]:
            if name[i]:
                out.append(name[i])
        else:
            if name[i - 1]:
                out += b"+"
            break
    neg = " !" if invert else ""
    return [f"{neg} -{letter} {out.decode(errors='replace')}"]


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class _protoent(ctypes.Structure):
    _fields_ = [("p_name", ctypes.c_char_p)]


_libc.getprotobynumber.restype = ctypes.POINTER(_protoent)
_libc.getprotobynumber.argtypes = [ctypes.c_int]


def _proto_name(proto: int) -> str:
    """As iptables-save names a protocol: /etc/protocols first, then libxtables' list."""
    entry = _libc.getprotobynumber(proto)
    if entry and entry[0].p_name:
        name: bytes = entry[0].p_name
        return name.decode()
    return _CHAIN_PROTOS.get(proto, str(proto))


# open_memstream(3): a FILE* writing into a malloc'ed buffer
_libc.open_memstream.restype = ctypes.c_void_p
_libc.open_memstream.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
_libc.fclose.argtypes = [ctypes.c_void_p]
_libc.fflush.argtypes = [ctypes.c_void_p]
_libc.free.argtypes = [ctypes.c_void_p]


def _c_stdout_of(call: Callable[[], object]) -> str:
    """Run ``call`` with C ``stdout`` pointed at a memory stream; return what it printed.

    Only the libc ``stdout`` pointer is swapped, not file descriptor 1, so Python
    (and a UI drawing on the terminal from another thread) is not affected.
    """
    with _memstream() as (stream, read):
        c_stdout = ctypes.c_void_p.in_dll(_libc, "stdout")
        saved = c_stdout.value
        c_stdout.value = stream
        try:
            call()
        finally:
            _libc.fflush(stream)
            c_stdout.value = saved
        return read()


@contextmanager
def _memstream() -> Iterator[tuple[int, Callable[[], str]]]:
    buf = ctypes.c_void_p()
    size = ctypes.c_size_t()
    stream = _libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    if not stream:
        raise OSError(ctypes.get_errno(), "open_memstream failed")
    closed = False

    def read() -> str:
        nonlocal closed
        _libc.fclose(stream)
        closed = True
        data = ctypes.string_at(buf.value, size.value) if buf.value else b""
        return data.decode(errors="replace")

    try:
        yield stream, read
    finally:
        if not closed:
            _libc.fclose(stream)
        if buf.value:
            _libc.free(buf)
