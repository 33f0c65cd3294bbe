"""Target URLs: private, loopback, link-local, CGNAT, IPv6 internal and mapped forms refused."""

from __future__ import annotations

import ipaddress

import pytest

from devsignal_pipelines.lib.webhooks.settings import WebhookSettings, parse_networks
from devsignal_pipelines.lib.webhooks.ssrf import (
    UnsafeTargetError,
    check_addresses,
    check_url,
    refusal,
)

STRICT = WebhookSettings()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1.2.3:8080/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:169.254.169.254]/hook",
        "http://[fc00::1]/hook",
        "http://[fd12:3456::1]/hook",
        "http://[fe80::1]/hook",
        "http://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://[::127.0.0.1]/hook",  # IPv4-compatible
        "http://[::169.254.169.254]/hook",
        "http://[::ffff:0:7f00:1]/hook",  # IPv4-translated (SIIT)
        "http://[fec0::1]/hook",  # site-local
        "http://2130706433/hook",  # 127.0.0.1 as one decimal number
        "http://0x7f.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://LOCALHOST./hook",
    ],
)
def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTargetError, match="refused"):
        check_url(url, STRICT)


def test_a_hostname_resolving_to_a_private_address_is_refused_by_name() -> None:
    with pytest.raises(UnsafeTargetError, match=r"localhost resolves to .*(127\.0\.0\.1|::1)"):
        check_url("http://localhost/x", STRICT)


def test_what_api_clients_see_never_says_what_a_name_resolved_to() -> None:
    with pytest.raises(UnsafeTargetError) as refused:
        check_url("http://localhost/x", STRICT)
    assert "127.0.0.1" in str(refused.value) or "::1" in str(refused.value)  # for operators
    assert "127.0.0.1" not in refused.value.public_message
    assert "::1" not in refused.value.public_message
    assert "public addresses" in refused.value.public_message
    with pytest.raises(UnsafeTargetError) as unknown:
        check_url("http://no-such-host.invalid/x", STRICT)
    assert unknown.value.public_message == refused.value.public_message  # no existence oracle


def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    with pytest.raises(UnsafeTargetError, match=r"10\.1\.2\.3"):
        check_addresses("mixed.example", ["93.184.216.34", "10.1.2.3"], STRICT)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "metadata"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("::ffff:10.0.0.1", "IPv6 form of 10.0.0.1"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique local"),
        ("::1", "loopback"),
    ],
)
def test_refusals_say_why(address: str, reason: str) -> None:
    assert reason in refusal(ipaddress.ip_address(address))


def test_public_addresses_pass() -> None:
    assert refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert refusal(ipaddress.ip_address("2606:2800:220:1:248:1893:25c8:1946")) is None
    assert check_addresses("example.com", ["93.184.216.34"], STRICT) == ("93.184.216.34",)


def test_the_allow_list_admits_exactly_the_listed_networks() -> None:
    local = WebhookSettings(allowed_networks=parse_networks("127.0.0.1/32, ::1"))
    assert check_url("http://127.0.0.1:9/x", local).addresses == ("127.0.0.1",)
    with pytest.raises(UnsafeTargetError):
        check_url("http://127.0.0.2:9/x", local)
    with pytest.raises(UnsafeTargetError):
        check_url("http://169.254.169.254/", local)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "scheme"),
        ("https://user:pw@example.com/x", "user name or password"),
        ("", "empty"),
        ("https:///nohost", "no host"),
        ("https://exa mple.com/", "whitespace"),
    ],
)
def test_malformed_urls_get_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(UnsafeTargetError, match=message):
        check_url(url, STRICT)


def test_https_can_be_required() -> None:
    with pytest.raises(UnsafeTargetError, match="DEVSIGNAL_WEBHOOK_REQUIRE_HTTPS"):
        check_url("http://93.184.216.34/x", WebhookSettings(require_https=True))
