"""The one model of a host's Docker networking.

Plain dataclasses, filled by the collectors (``netexplorer.collect``) and assembled
into one :class:`Snapshot`: the read. Nothing writes into a Snapshot once it is
assembled; what is derived from it (which veth, bridge and rules belong to an
endpoint ...) is ``netexplorer.correlate``'s separate result. Nothing here imports
Textual or talks to the host.

Every entity has a stable ``key`` (a string) that the correlation index and the
UI use as row keys: it survives refreshes as long as the thing itself exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: 2: the derived fields (an endpoint's bridge, veth, rules ...; a rule's containers;
#: a container's conntrack) left the model; ``snapshot --json`` still writes them
#: from the correlation and loading ignores them (see netexplorer.snapshot_io)
SCHEMA_VERSION = 2

#: what the prefix of a model key names, for people ("ct:..." is a container)
KIND_NAMES = {
    "ct": "container",
    "ep": "endpoint",
    "if": "interface",
    "br": "bridge",
    "net": "network",
    "ns": "namespace",
    "rule": "rule",
    "ipvs": "IPVS",  # an IPVS service or real server (netexplorer.ingress)
    "doc": "finding",  # a doctor finding (netexplorer.doctor)
    "far": "on another host",  # another host's item (netexplorer.overlay_peers.far_key)
}

#: overlay driver options
VXLANID_OPTION = "com.docker.network.driver.overlay.vxlanid_list"
ENCRYPTED_OPTION = "encrypted"

#: bridge driver options (``docker network create -o ...``)
ICC_OPTION = "com.docker.network.bridge.enable_icc"
MASQUERADE_OPTION = "com.docker.network.bridge.enable_ip_masquerade"


# --------------------------------------------------------------------------- docker
def network_key(network_id: str) -> str:
    """The model key of the Docker network with this id (also an endpoint's network)."""
    return f"net:{network_id}"


@dataclass(slots=True)
class Network:
    """A Docker network (``docker network inspect``)."""

    id: str
    name: str
    driver: str
    scope: str = "local"
    subnets: list[str] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)
    #: Host bridge interface for bridge networks: docker0, br-<id12> or the
    #: ``com.docker.network.bridge.name`` option. None for other drivers.
    bridge: str | None = None
    internal: bool = False
    enable_ipv6: bool = False
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    #: macvlan/ipvlan: the host interface the network hangs off (Docker's option
    #: ``parent``, e.g. eth0 or eth0.10). None for other drivers.
    parent: str | None = None
    #: overlay: containers may join with ``docker run`` (``--attachable``)
    attachable: bool = False
    #: overlay: the swarm's routing-mesh network (``ingress``)
    ingress: bool = False
    #: overlay: the swarm nodes that have the network (``docker network inspect``
    #: Peers: node name and underlay address)
    peers: list[OverlayPeer] = field(default_factory=list)

    @property
    def vni(self) -> int | None:
        """overlay: the VXLAN id (option ``com.docker.network.driver.overlay.vxlanid_list``)."""
        first = self.options.get(VXLANID_OPTION, "").split(",")[0].strip()
        return int(first) if first.isdigit() else None

    @property
    def encrypted(self) -> bool:
        """overlay: IPsec between the nodes (option ``encrypted``)."""
        return self.driver == "overlay" and ENCRYPTED_OPTION in self.options

    @property
    def key(self) -> str:
        return network_key(self.id)

    @property
    def child_mode(self) -> str | None:
        """macvlan/ipvlan mode: option ``macvlan_mode`` (Docker's default ``bridge``) or
        ``ipvlan_mode`` (default ``l2``); None for other drivers."""
        if self.driver == "macvlan":
            return self.options.get("macvlan_mode", "bridge")
        if self.driver == "ipvlan":
            return self.options.get("ipvlan_mode", "l2")
        return None

    @property
    def icc(self) -> bool:
        """Inter-container communication on the bridge (``enable_icc``; default on)."""
        return self.options.get(ICC_OPTION, "true").lower() != "false"

    @property
    def masquerade(self) -> bool:
        """Does Docker masquerade traffic leaving the network (``enable_ip_masquerade``)?"""
        return self.options.get(MASQUERADE_OPTION, "true").lower() != "false"


@dataclass(slots=True)
class OverlayPeer:
    """A swarm node that has an overlay network: its name and underlay address."""

    name: str
    ip: str


@dataclass(slots=True)
class XfrmState:
    """An IPsec security association of the host (``ip xfrm state``): never its key,
    only the algorithm's name (netexplorer.ipsec drops the key bytes when parsing)."""

    src: str
    dst: str
    proto: str = ""  # esp, ah, comp
    spi: int | None = None
    reqid: int | None = None
    mode: str = ""  # transport, tunnel
    #: "aead rfc4106(gcm(aes))", "enc cbc(aes)", "auth hmac(sha256)": names only
    algorithms: list[str] = field(default_factory=list)
    mark: int | None = None
    mark_mask: int | None = None


@dataclass(slots=True)
class XfrmPolicy:
    """An IPsec policy of the host (``ip xfrm policy``): which packets (selector,
    mark) go through which SA (template)."""

    src: str
    dst: str
    dir: str = ""  # out, in, fwd
    selector_proto: str | None = None
    selector_dport: int | None = None
    mark: int | None = None
    mark_mask: int | None = None
    tmpl_src: str | None = None
    tmpl_dst: str | None = None
    tmpl_proto: str | None = None
    tmpl_spi: int | None = None
    tmpl_mode: str | None = None


@dataclass(slots=True)
class PublishedPort:
    """One published port (``docker port``): host_ip:host_port -> container_port/proto."""

    container_port: int
    protocol: str
    host_ip: str
    host_port: int


@dataclass(slots=True)
class Endpoint:
    """A container's attachment to one network; for bridge networks one veth pair."""

    container_id: str
    container_name: str
    network: str
    network_id: str
    endpoint_id: str = ""
    ipv4: str | None = None
    ipv4_prefixlen: int | None = None
    ipv6: str | None = None
    ipv6_prefixlen: int | None = None
    mac: str | None = None
    gateway: str | None = None
    ipv6_gateway: str | None = None

    @property
    def key(self) -> str:
        return f"ep:{self.container_id}:{self.network_id}"

    @property
    def network_key(self) -> str:
        return network_key(self.network_id)


def shared_netns_owner(network_mode: str) -> str | None:
    """``container:<id>`` -> id: the container whose network namespace is shared."""
    if network_mode.startswith("container:"):
        return network_mode.split(":", 1)[1] or None
    return None


@dataclass(slots=True)
class Container:
    id: str
    name: str
    image: str
    state: str
    #: Docker's HostConfig.NetworkMode: default, bridge, <network>, host, none or
    #: container:<id> (the other container's full id as Docker stores it)
    network_mode: str
    pid: int | None = None
    #: netns id of the container's network namespace as seen from the host
    #: (RTM_GETNSID on /proc/<pid>/ns/net); None if not running or unknown.
    netnsid: int | None = None
    published_ports: list[PublishedPort] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    #: ``--network container:<other>``: the id of the container whose network
    #: namespace this one shares (it has no endpoints of its own); None otherwise
    netns_owner: str | None = None
    #: its own network namespace as ``ip a``, ``ip route``, ``ip rule`` show it
    #: inside; None when not running or not read (``--network host`` is the
    #: host's namespace: Snapshot.routes; a ``container:`` sharer uses its owner's)
    inside: NetnsView | None = None

    @property
    def key(self) -> str:
        return f"ct:{self.id}"

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass(slots=True)
class NatFlow:
    """A live conntrack entry that was source- or destination-NATed (``conntrack -L``).

    ``orig_*`` is the tuple as the first packet left its sender, ``reply_*`` the
    tuple the answer comes back with: for SNAT ``reply_dst`` is the address the
    flow left as (``172.17.0.2 -> 203.0.113.1`` leaves as ``198.51.100.1``), for
    DNAT ``reply_src`` is where it really went. Ports are None for portless
    protocols (ICMP: ``orig_sport`` and ``reply_sport`` hold the echo id).
    """

    proto: str  # tcp, udp, icmp, icmpv6, sctp, or the protocol number
    nat: str  # "snat", "dnat" or "snat+dnat"
    orig_src: str
    orig_dst: str
    reply_src: str
    reply_dst: str
    orig_sport: int | None = None
    orig_dport: int | None = None
    reply_sport: int | None = None
    reply_dport: int | None = None
    #: TCP state (ESTABLISHED, TIME_WAIT ...); "" for other protocols
    state: str = ""
    #: conntrack status flags that matter to a reader: ASSURED, UNREPLIED
    flags: list[str] = field(default_factory=list)

    @property
    def snat(self) -> bool:
        return "snat" in self.nat

    @property
    def dnat(self) -> bool:
        return "dnat" in self.nat


# --------------------------------------------------------------------------- netlink
@dataclass(slots=True)
class Address:
    family: str  # "inet" | "inet6"
    address: str
    prefixlen: int
    scope: str = "global"

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefixlen}"


@dataclass(slots=True)
class Interface:
    """A host network interface (``ip -d link`` / ``ip a``)."""

    ifindex: int
    name: str
    kind: str  # veth, bridge, macvlan, dummy, "" for physical ...
    operstate: str
    mac: str | None = None
    mtu: int | None = None
    flags: list[str] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    master: str | None = None
    master_ifindex: int | None = None
    #: IFLA_LINK: for a veth the peer's ifindex (in the peer's netns)
    link_ifindex: int | None = None
    #: IFLA_LINK_NETNSID: the netns id the peer lives in (None: same netns)
    link_netnsid: int | None = None
    #: a vxlan device: its VXLAN attributes (``ip -d link``); None for other kinds
    vxlan: Vxlan | None = None
    #: the Docker-made namespace the interface lives in (``1-<id>``, ``ingress_sbox``,
    #: ``lb_<id>``; see DockerNamespace); None: the host's namespace
    netns: str | None = None

    @property
    def key(self) -> str:
        return interface_key(self.ifindex, self.netns)


def interface_key(ifindex: int, netns: str | None = None) -> str:
    """The model key of an interface (or bridge port): ``if:<ifindex>`` on the host,
    ``if:<netns>/<ifindex>`` in a Docker namespace."""
    return f"if:{ifindex}" if netns is None else f"if:{netns}/{ifindex}"


@dataclass(slots=True)
class Vxlan:
    """A vxlan device's attributes (IFLA_VXLAN_*)."""

    vni: int
    port: int = 4789
    learning: bool = True
    #: the local (source) underlay address; None when unset (the kernel picks it)
    local: str | None = None
    #: the underlay device it is bound to (IFLA_VXLAN_LINK); None when unset
    link_ifindex: int | None = None
    proxy: bool = False
    l2miss: bool = False
    l3miss: bool = False


@dataclass(slots=True)
class FdbEntry:
    """One forwarding-database entry (``bridge fdb show``)."""

    mac: str
    ifname: str
    ifindex: int
    #: a vxlan entry's remote VTEP: the peer node's underlay address
    dst: str | None = None
    #: the bridge it belongs to (``master br0``); None for a device's own entry (self)
    master: str | None = None
    #: permanent, static, or "" (learned)
    state: str = ""
    vni: int | None = None


@dataclass(slots=True)
class Neighbour:
    """One IP neighbour (ARP/NDP) entry (``ip neigh show``): in an overlay namespace,
    Docker's entry for each remote container (its address -> its MAC, on vxlan0)."""

    ip: str
    mac: str
    ifname: str
    ifindex: int
    #: permanent, reachable, stale, ... (lowercase, as ``ip neigh`` prints it)
    state: str = ""


def namespace_key(name: str) -> str:
    """The selection key of the Docker namespace called ``name`` (``ns:<name>``)."""
    return f"ns:{name}"


#: the kinds of DockerNamespace that hold the routing mesh's rules and IPVS services
MESH_NAMESPACE_KINDS = ("ingress_sbox", "lb")


@dataclass(slots=True)
class DockerNamespace:
    """A network namespace Docker made outside any container (``/var/run/docker/netns``).

    ``1-<network id[:10]>``: an overlay network's namespace (br0, vxlan0, a veth per
    local container); ``ingress_sbox``: the routing mesh's entry; ``lb_<id[:9]>``:
    an overlay network's load balancer. Container namespaces there are not kept.
    """

    name: str
    #: "overlay", "ingress_sbox" or "lb"
    kind: str
    path: str
    interfaces: list[Interface] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    fdb: list[FdbEntry] = field(default_factory=list)
    #: IP neighbours (``ip neigh``): the overlay's remote containers' MACs
    neighbours: list[Neighbour] = field(default_factory=list)
    #: the namespace's IPVS table as ``/proc/net/ip_vs`` prints it there (the routing
    #: mesh's load balancer, in ingress_sbox and lb_*); None: the kernel has no IPVS
    ipvs: str | None = None
    #: netns id, as this namespace sees it, of other namespaces: "host", "pid:<pid>"
    #: of a container's init process or the name of another Docker namespace -> id
    peer_netnsids: dict[str, int] = field(default_factory=dict)
    #: the netfilter rules and chains read inside it (ingress_sbox and lb_* only:
    #: the routing mesh's MARK and SNAT rules), each with ``netns`` set to ``name``
    rules: list[Rule] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    #: its routes, every table, both families, and its policy rules, as ``ip route
    #: show table all`` and ``ip rule`` print them inside; empty in a read made
    #: before netexplorer read them (the path then derives the routes)
    routes: list[Route] = field(default_factory=list)
    ip_rules: list[IpRule] = field(default_factory=list)
    #: its own forwarding settings read inside it ("net.ipv4.ip_forward" -> "1",
    #: as Snapshot.sysctls); empty when not read
    sysctls: dict[str, str] = field(default_factory=dict)
    #: why it could not be read (the rest of the snapshot is still there)
    error: str | None = None

    @property
    def key(self) -> str:
        return namespace_key(self.name)


@dataclass(slots=True)
class SwarmInfo:
    """This node's place in a swarm (``docker info`` Swarm)."""

    node_id: str
    node_addr: str
    state: str
    manager: bool = False


#: routing table numbers ``ip`` prints by name (/etc/iproute2/rt_tables)
TABLE_NAMES = {255: "local", 254: "main", 253: "default", 0: "unspec"}
#: address families of routes and policy rules
INET = "inet"
INET6 = "inet6"


def table_name(table: int) -> str:
    """``main``, ``local``, ``default`` or the number, as ``ip route``/``ip rule`` print it."""
    return TABLE_NAMES.get(table, str(table))


def _bare(cidr: str) -> str:
    """A host prefix (/32, /128) without its length, as ``ip`` prints it."""
    addr, _, length = cidr.partition("/")
    host = "128" if ":" in addr else "32"
    return addr if length == host else cidr


@dataclass(slots=True)
class Route:
    """One route of one routing table (``ip route show table all``)."""

    family: str  # "inet" | "inet6"
    #: "default" or a CIDR ("172.17.0.0/16", "203.0.113.1/32")
    dst: str
    #: unicast, local, broadcast, blackhole, unreachable, prohibit, throw, multicast,
    #: anycast, nat (or the number)
    type: str = "unicast"
    table: int = 254  # 254 main, 255 local, 253 default, or a number
    dev: str | None = None
    ifindex: int | None = None
    gateway: str | None = None
    prefsrc: str | None = None
    scope: str = "universe"  # universe, site, link, host, nowhere (or the number)
    metric: int | None = None
    protocol: str = ""  # kernel, boot, static, dhcp, ... (or the number)

    @property
    def prefixlen(self) -> int:
        """Length of the destination prefix (0 for default)."""
        if self.dst == "default":
            return 0
        _, _, length = self.dst.partition("/")
        return int(length) if length else (128 if ":" in self.dst else 32)

    def text(self) -> str:
        """The route as ``ip route show table all`` prints it."""
        parts = [] if self.type == "unicast" else [self.type]
        parts.append(_bare(self.dst))
        if self.gateway:
            parts += ["via", self.gateway]
        if self.dev:
            parts += ["dev", self.dev]
        if self.table != 254:
            parts += ["table", table_name(self.table)]
        if self.protocol and self.protocol != "boot":
            parts += ["proto", self.protocol]
        if self.scope != "universe":
            parts += ["scope", self.scope]
        if self.prefsrc:
            parts += ["src", self.prefsrc]
        if self.metric is not None:
            parts += ["metric", str(self.metric)]
        return " ".join(parts)


@dataclass(slots=True)
class IpRule:
    """A policy-routing rule (``ip rule``): which table a packet's route is looked up in."""

    family: str  # "inet" | "inet6"
    priority: int
    table: int
    #: lookup, goto, nop, blackhole, unreachable, prohibit (or the number)
    action: str = "lookup"
    src: str | None = None  # CIDR; None is "all"
    dst: str | None = None
    iif: str | None = None
    oif: str | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    #: ``not``: the rule applies to packets its selectors do NOT match
    invert: bool = False
    #: action goto: the priority it jumps to
    goto: int | None = None

    def text(self) -> str:
        """The rule as ``ip rule`` prints it: ``32766: from all lookup main``."""
        parts = [f"{self.priority}:"]
        if self.invert:
            parts.append("not")
        parts += ["from", _bare(self.src) if self.src else "all"]
        if self.dst:
            parts += ["to", _bare(self.dst)]
        if self.fwmark is not None:
            mark = f"{self.fwmark:#x}"
            if self.fwmask is not None and self.fwmask != 0xFFFFFFFF:
                mark += f"/{self.fwmask:#x}"
            parts += ["fwmark", mark]
        if self.iif:
            parts += ["iif", self.iif]
        if self.oif:
            parts += ["oif", self.oif]
        if self.action == "lookup":
            parts += ["lookup", table_name(self.table)]
        elif self.action == "goto":
            parts += ["goto", str(self.goto)]
        else:
            parts.append(self.action)
        return " ".join(parts)


#: the rules every network namespace starts with (priority, table), per family
DEFAULT_IP_RULES = {
    INET: ((0, 255), (32766, 254), (32767, 253)),
    INET6: ((0, 255), (32766, 254)),
}


def is_default_rule(rule: IpRule) -> bool:
    """One of the rules a namespace is born with (``from all lookup local/main/default``)."""
    plain = (
        rule.action == "lookup"
        and not rule.invert
        and rule.src is None
        and rule.dst is None
        and rule.iif is None
        and rule.oif is None
        and rule.fwmark is None
    )
    return plain and (rule.priority, rule.table) in DEFAULT_IP_RULES.get(rule.family, ())


@dataclass(slots=True)
class NetnsView:
    """A network namespace as ``ip a``, ``ip route show table all`` and ``ip rule`` show it
    from inside (a container's own, read over netlink without ``docker exec``)."""

    #: its interfaces with their names inside (eth0); ``link_ifindex`` is the ``@ifN``
    #: (for a veth the host-side peer's ifindex), ``link_netnsid`` the peer's netns id
    #: as this namespace sees it
    interfaces: list[Interface] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    ip_rules: list[IpRule] = field(default_factory=list)
    #: the netfilter rules and chains read inside it, each with ``netns``
    #: ``ct:<container id>``: read only for a container with an endpoint on the
    #: swarm's ingress network (a service task publishing a port), else empty
    rules: list[Rule] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    #: why it could not be read (the container vanished, not root ...), with the fix
    error: str | None = None

    def interface(self, ifindex: int | None) -> Interface | None:
        return next((i for i in self.interfaces if i.ifindex == ifindex), None)

    def interface_with_address(self, address: str | None) -> Interface | None:
        """The interface holding ``address`` (an endpoint's IP), None if none does."""
        if not address:
            return None
        return next(
            (i for i in self.interfaces if any(a.address == address for a in i.addresses)),
            None,
        )

    def interface_for(self, ep: Endpoint) -> Interface | None:
        """The interface inside for a Docker endpoint: the one holding its address,
        else the one with its MAC."""
        found = self.interface_with_address(ep.ipv4) or self.interface_with_address(ep.ipv6)
        if found is None and ep.mac:
            found = next(
                (i for i in self.interfaces if (i.mac or "").lower() == ep.mac.lower()), None
            )
        return found

    def main_routes(self) -> list[Route]:
        """Routes outside the local table (what ``ip route`` / ``ip -6 route`` list)."""
        return [r for r in self.routes if r.table != 255]


@dataclass(slots=True)
class BridgePort:
    ifindex: int
    name: str
    #: STP state of the port: disabled, listening, learning, forwarding, blocking
    state: str
    operstate: str = ""
    #: the Docker namespace of the port (as Interface.netns)
    netns: str | None = None

    @property
    def key(self) -> str:
        # a bridge port *is* the host interface: one key, so that highlighting
        # a port highlights the interface and the other way round
        return interface_key(self.ifindex, self.netns)


def bridge_key(name: str, netns: str | None = None) -> str:
    """The model key of the bridge named ``name`` (in a Docker namespace: ``br:<ns>/<name>``)."""
    return f"br:{name}" if netns is None else f"br:{netns}/{name}"


@dataclass(slots=True)
class Bridge:
    name: str
    ifindex: int
    operstate: str = ""
    mac: str | None = None
    stp: bool = False
    ports: list[BridgePort] = field(default_factory=list)
    #: the Docker namespace of the bridge (an overlay's br0); None: the host's
    netns: str | None = None

    @property
    def key(self) -> str:
        return bridge_key(self.name, self.netns)


# --------------------------------------------------------------------------- firewall
#: ``Rule.backend``/``Chain.backend``: the iptables backends (nft is Debian's default)
#: and native nftables (Docker's ``docker-bridges`` tables, and other nft tables)
NFT = "iptables-nft"
LEGACY = "iptables-legacy"
NFTABLES = "nftables"
#: the table Docker's nftables backend owns (ip and ip6)
DOCKER_NFT_TABLE = "docker-bridges"
#: rule targets that rewrite the source (MASQUERADE, SNAT) or destination address
SNAT_TARGETS = frozenset({"MASQUERADE", "SNAT"})
DNAT_TARGETS = frozenset({"DNAT"})


def is_docker_chain(name: str) -> bool:
    """One of the iptables chains Docker creates (DOCKER, DOCKER-USER, DOCKER-CT ...)."""
    return name == "DOCKER" or name.startswith("DOCKER-")


@dataclass(slots=True)
class Rule:
    """One firewall rule, whichever backend holds it.

    iptables rules are in iptables-save form; native nftables rules (backend
    "nftables", e.g. Docker's ``docker-bridges`` tables) have their match fields
    filled from the nft expressions and ``text`` in nft syntax.
    """

    backend: str  # "iptables-nft" | "iptables-legacy" | "nftables"
    family: str  # "ipv4" | "ipv6" ("inet" for a native nftables inet table)
    table: str  # nat, filter, ... (nftables: the table's name, e.g. docker-bridges)
    chain: str
    position: int  # 1-based position within the chain
    #: "-A CHAIN ..." exactly as iptables-save prints it; nftables: the rule as
    #: ``nft list ruleset`` prints it, without its counter values and handle
    text: str
    target: str = ""  # MASQUERADE, DNAT, ACCEPT, DOCKER ... ("" for none)
    target_options: dict[str, str] = field(default_factory=dict)
    source: str | None = None  # "-s" as written ("172.17.0.0/16")
    source_negated: bool = False
    destination: str | None = None
    destination_negated: bool = False
    in_interface: str | None = None
    in_negated: bool = False
    out_interface: str | None = None
    out_negated: bool = False
    protocol: str | None = None
    protocol_negated: bool = False
    dport: str | None = None
    sport: str | None = None
    matches: list[str] = field(default_factory=list)  # "-m" module names
    comment: str | None = None
    packets: int = 0
    bytes: int = 0
    #: stable id: backend, family, table, chain and text hashed (see rule_id)
    id: str = ""
    #: nftables only: the rule's handle (unique within its table)
    handle: int | None = None
    #: nftables only: the interface a verdict map dispatches this rule's chain on
    #: (Docker's per-bridge chains: docker0 for nat-postrouting-out__docker0), so
    #: the rule sees only packets with that interface, as if it had the condition too
    chain_interface: str | None = None
    #: "in": the map is keyed on the input interface (iifname, like -i); "out": on
    #: the output interface (oifname, like -o). None when chain_interface is None.
    chain_interface_dir: str | None = None
    #: nftables only: no base chain reaches this rule's chain (no jump, goto or
    #: verdict-map element leads there), so the rule never sees a packet
    unreached: bool = False
    #: packets/bytes counted since the previous firewall read (live view only;
    #: None without a previous read or when the counters were reset)
    delta_packets: int | None = None
    delta_bytes: int | None = None
    #: the network namespace the rule was read in: None is the host's; else a
    #: Docker namespace's name (``ingress_sbox``, ``lb_<id>``) or ``ct:<container
    #: id>`` for a container's own (part of ``id``, so ids are unique per snapshot)
    netns: str | None = None

    @property
    def key(self) -> str:
        return f"rule:{self.id}"


@dataclass(slots=True)
class Chain:
    backend: str
    family: str
    table: str
    name: str
    policy: str | None  # None for user chains ("-")
    packets: int = 0
    bytes: int = 0
    #: the network namespace the chain was read in (as ``Rule.netns``)
    netns: str | None = None


# --------------------------------------------------------------------------- snapshot
@dataclass(slots=True)
class Source:
    """How one collector fared."""

    name: str
    ok: bool
    error: str | None = None
    seconds: float = 0.0
    #: wall-clock time (time.time()) the data shown from this source was read;
    #: 0 when unknown. With ``stale`` it is older than this snapshot: the source
    #: failed now and the live view keeps showing what it read last.
    read_at: float = 0.0
    stale: bool = False


@dataclass(slots=True)
class Snapshot:
    schema: int = SCHEMA_VERSION
    host: str = ""
    networks: list[Network] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    chains: list[Chain] = field(default_factory=list)
    #: which firewall backends hold Docker's chains
    firewall_backends: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    collect_seconds: float = 0.0
    #: every NATed conntrack entry of the host (correlation hands them to containers)
    conntrack: list[NatFlow] = field(default_factory=list)
    #: kernel settings that decide whether containers' packets get through, as
    #: read from /proc/sys ("net.ipv4.ip_forward" -> "1"). A name that is
    #: absent was not there: net.bridge.* exist only while br_netfilter is
    #: loaded. Empty when not collected (then ``source("sysctl")`` is None).
    sysctls: dict[str, str] = field(default_factory=dict)
    #: the host's routes, every table, both families (``ip route show table all``)
    routes: list[Route] = field(default_factory=list)
    #: the host's policy-routing rules, both families (``ip rule``)
    ip_rules: list[IpRule] = field(default_factory=list)
    #: Docker's own namespaces (overlay networks, ingress_sbox, lb_*), read over netlink
    namespaces: list[DockerNamespace] = field(default_factory=list)
    #: this node's swarm membership; None when not in a swarm (or not read)
    swarm: SwarmInfo | None = None
    #: the host's IPsec states and policies (``ip xfrm``), read only while an
    #: encrypted overlay network exists; ``xfrm_read`` says whether they were read
    xfrm_states: list[XfrmState] = field(default_factory=list)
    xfrm_policies: list[XfrmPolicy] = field(default_factory=list)
    xfrm_read: bool = False

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)


#: values that are JSON already
_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})
#: field names of each model dataclass, looked up once per class
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def as_plain(obj: Any) -> Any:
    """Turn model objects into JSON-ready dicts/lists (slots dataclasses included)."""
    kind = type(obj)
    if kind in _PLAIN_SCALARS:
        return obj
    if kind is list or kind is tuple:
        return [as_plain(x) for x in obj]
    if kind is dict:
        return {str(k): as_plain(v) for k, v in obj.items()}
    names = _FIELD_NAMES.get(kind)
    if names is None and hasattr(kind, "__dataclass_fields__"):
        from dataclasses import fields

        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind))
    if names is not None:
        return {name: as_plain(getattr(obj, name)) for name in names}
    if isinstance(obj, list | tuple):
        return [as_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): as_plain(v) for k, v in obj.items()}
    return obj


def rule_id(
    backend: str,
    family: str,
    table: str,
    chain: str,
    text: str,
    occurrence: int = 1,
    netns: str | None = None,
) -> str:
    """A short id for a rule that survives other rules being inserted or deleted.

    Derived from what the rule *is* (backend, family, table, chain, text and, for a
    rule read in another network namespace, that namespace), not from its
    position; ``occurrence`` tells identical rules in one chain apart. A host rule
    (``netns`` None) hashes the same five parts as ever, so its id is unchanged.
    """
    import hashlib

    parts = (
        (backend, family, table, chain, text)
        if netns is None
        else (backend, family, table, chain, text, netns)
    )
    digest = hashlib.sha1("\0".join(parts).encode(), usedforsecurity=False).hexdigest()[:12]
    return digest if occurrence == 1 else f"{digest}-{occurrence}"
