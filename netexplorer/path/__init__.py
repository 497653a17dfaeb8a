"""How a packet gets from A to B on this host, hop by hop, in kernel order.

``trace_path(read, corr, src, dst, proto, port)`` follows one packet over the
model: route lookups in the source's namespace and on the host, the veth pair,
the bridge, every netfilter hook with the rule that decides, NAT, the egress,
and the reply. Pure: it reads the snapshot and the correlation, never the host.
"""

from netexplorer.path.engine import PROTOCOLS, trace_path
from netexplorer.path.result import VERDICTS, Hop, Packet, PathResult, UnknownName

__all__ = ["PROTOCOLS", "VERDICTS", "Hop", "Packet", "PathResult", "UnknownName", "trace_path"]
