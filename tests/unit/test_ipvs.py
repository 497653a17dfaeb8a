"""netexplorer.ipvs: /proc/net/ip_vs parsed, on the kernel's own text and on any text."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from netexplorer.ipvs import IpvsDest, IpvsService, parse_ip_vs

RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "ipvs"
HEADER = (
    "IP Virtual Server version 1.2.1 (size=4096)\n"
    "Prot LocalAddress:Port Scheduler Flags\n"
    "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
)


def test_the_routing_mesh_table_recorded_in_ingress_sbox() -> None:
    services = parse_ip_vs((RECORDED / "ingress_sbox.ip_vs.txt").read_text())
    assert services == [
        IpvsService(
            protocol="FWM",
            address=None,
            port=None,
            fwmark=0x100,
            scheduler="rr",
            flags=(),
            dests=(
                IpvsDest("10.0.0.5", 0, "Masq", 1, 0, 1),
                IpvsDest("10.0.0.4", 0, "Masq", 1, 0, 0),
            ),
        )
    ]
    assert services[0].describe() == "FWM 0x100 rr"
    assert services[0].dests[0].describe() == "10.0.0.5:0 Masq weight 1 active 0 inactive 1"


def test_a_table_with_no_service() -> None:
    assert parse_ip_vs((RECORDED / "overlay-empty.ip_vs.txt").read_text()) == []
    assert parse_ip_vs("") == []


def test_address_services_flags_and_ipv6() -> None:
    text = HEADER + (
        "TCP  C0A80001:0050 wlc persistent 360 FFFFFFFF\n"
        "  -> AC110002:1F90      Route   2      3          4         \n"
        "UDP  [fd00:0000:0000:0000:0000:0000:0000:0001]:0035 sh ops \n"
        "  -> [fd00:0000:0000:0000:0000:0000:0000:0002]:0035      Tunnel  1      0          0\n"
        "FWM  00000101 rr \n"
    )
    tcp, udp, fwm = parse_ip_vs(text)
    assert (tcp.protocol, tcp.address, tcp.port, tcp.fwmark) == ("TCP", "192.168.0.1", 80, None)
    assert tcp.flags == ("persistent 360 FFFFFFFF",)
    assert tcp.dests == (IpvsDest("172.17.0.2", 8080, "Route", 2, 3, 4),)
    assert tcp.describe() == "TCP 192.168.0.1:80 wlc persistent 360 FFFFFFFF"
    assert (udp.address, udp.port, udp.scheduler, udp.flags) == ("fd00::1", 53, "sh", ("ops",))
    assert udp.dests[0].address == "fd00::2" and udp.dests[0].forward == "Tunnel"
    assert udp.describe() == "UDP [fd00::1]:53 sh ops"
    assert fwm.fwmark == 0x101 and fwm.dests == ()


def test_garbage_lines_are_skipped_not_guessed() -> None:
    text = HEADER + (
        "  -> 0A000009:0000      Masq    1      0          0\n"  # before any service
        "FWM  0000zz00 rr\n"  # unreadable service: its real servers go with it
        "  -> 0A000008:0000      Masq    1      0          0\n"
        "TCP  0A000001:0050 r\x1br\n"  # a scheduler that is no plain word
        "FWM  00000100 rr\n"
        "  -> 0A000005:0000      Masq    x      0          0\n"  # weight not a number
        "  -> 0A000004:0000      Masq    1      0          0\n"
        "  -> 0A00000"  # cut off (the reader reads at most 64 KiB)
    )
    (only,) = parse_ip_vs(text)
    assert only.fwmark == 0x100
    assert only.dests == (IpvsDest("10.0.0.4", 0, "Masq", 1, 0, 0),)


_lines = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.sampled_from(
            [
                "FWM  00000100 rr ",
                "  -> 0A000005:0000      Masq    1      0          1         ",
                "TCP  [fd00::1]:0050 wlc persistent 1 FF",
                "  -> [::ffff:1.2.3.4]:FFFF Route -1 0 0",
                "UDP  FFFFFFFF:FFFF sh ops ops",
            ]
        ),
        st.builds(
            lambda a, b, c: f"{a}  {b} {c}",
            st.sampled_from(["TCP", "UDP", "FWM", "SCTP", ""]),
            st.text(alphabet="0123456789abcdefABCDEF:[]", max_size=40),
            st.text(max_size=12),
        ),
    ),
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(_lines)
def test_never_raises_and_keeps_only_plain_words(lines: list[str]) -> None:
    for service in parse_ip_vs("\n".join(lines)):
        assert service.scheduler.isascii() and service.scheduler.isprintable()
        assert service.protocol.isascii() and " " not in service.protocol
        assert (service.fwmark is None) == (service.address is not None)
        for dest in service.dests:
            assert dest.forward.isascii() and dest.forward.isprintable()
            assert 0 <= dest.port <= 0xFFFF


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_never_raises_on_bytes_decoded_as_a_remote_host_sends_them(raw: bytes) -> None:
    parse_ip_vs(raw.decode("ascii", errors="replace"))
    parse_ip_vs(raw.decode("latin-1"))
