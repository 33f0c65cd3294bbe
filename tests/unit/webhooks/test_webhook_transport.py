"""The pinned resolver: every address checked, the checked answer reused, nothing else connected."""

from __future__ import annotations

import asyncio
import socket

import pytest

from devsignal_pipelines.lib.webhooks import ssrf
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings, parse_networks
from devsignal_pipelines.lib.webhooks.ssrf import Target, UnsafeTargetError
from devsignal_pipelines.lib.webhooks.transport import PinnedResolver, pinned_session

STRICT = WebhookSettings()


class FakeDNS:
    """Scripted DNS: each lookup of a name takes its next answer (the last one repeats)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def __setitem__(self, host: str, answers: list[list[str]]) -> None:
        self.answers[host] = answers

    async def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        queue = self.answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(ssrf, "_resolve_async", fake.resolve)
    return fake


def test_a_host_resolving_to_an_internal_address_is_never_handed_to_the_connector(dns) -> None:
    dns["rebind.test"] = [["93.184.216.34", "10.0.0.7"]]
    resolver = PinnedResolver(STRICT)
    with pytest.raises(OSError, match=r"rebind\.test resolves to 10\.0\.0\.7, which is a private"):
        asyncio.run(resolver.resolve("rebind.test", 443, socket.AF_UNSPEC))


def test_the_checked_answer_is_pinned_and_dns_is_not_asked_again(dns) -> None:
    dns["hooks.test"] = [["93.184.216.34", "2606:2800:220:1::1"], ["169.254.169.254"]]
    resolver = PinnedResolver(STRICT)

    async def scenario() -> tuple[Target | UnsafeTargetError, list, list, list]:
        target = await resolver.check("https://hooks.test/zap")
        both = await resolver.resolve("hooks.test", 443, socket.AF_UNSPEC)
        v4 = await resolver.resolve("hooks.test.", 443, socket.AF_INET)  # FQDN form, same host
        v6 = await resolver.resolve("hooks.test", 443, socket.AF_INET6)
        return target, both, v4, v6

    target, both, v4, v6 = asyncio.run(scenario())
    assert isinstance(target, Target) and target.host == "hooks.test"
    assert [r["host"] for r in both] == ["93.184.216.34", "2606:2800:220:1::1"]
    assert [r["host"] for r in v4] == ["93.184.216.34"] and v4[0]["family"] == socket.AF_INET
    assert [r["host"] for r in v6] == ["2606:2800:220:1::1"]
    assert all(r["hostname"] in ("hooks.test", "hooks.test.") for r in both + v4 + v6)
    assert dns.lookups == ["hooks.test"]  # the metadata answer that came later is never used


def test_refusals_are_remembered_for_the_run_with_their_reason(dns) -> None:
    dns["inside.test"] = [["192.168.1.5"]]
    resolver = PinnedResolver(STRICT)

    async def scenario() -> tuple[object, object]:
        return await resolver.check("https://inside.test/x"), await resolver.check(
            "https://inside.test/y"
        )

    first, second = asyncio.run(scenario())
    assert isinstance(first, UnsafeTargetError) and first is second
    assert "a private network" in str(first)
    assert dns.lookups == ["inside.test"]


def test_ip_literals_are_checked_before_any_request() -> None:
    resolver = PinnedResolver(STRICT)
    refused = asyncio.run(resolver.check("http://[::ffff:169.254.169.254]/x"))
    assert isinstance(refused, UnsafeTargetError) and "169.254.169.254" in str(refused)
    allowed = PinnedResolver(WebhookSettings(allowed_networks=parse_networks("127.0.0.1/32")))
    assert asyncio.run(allowed.check("http://127.0.0.1:9/x")).addresses == ("127.0.0.1",)


def test_the_session_follows_no_proxy_and_keeps_no_cookies() -> None:
    async def scenario() -> None:
        session = pinned_session(PinnedResolver(STRICT), 4, 15)
        try:
            assert session.trust_env is False
            assert len(session.cookie_jar) == 0 and type(session.cookie_jar).__name__ == (
                "DummyCookieJar"
            )
            assert session.connector.limit == 4
        finally:
            await session.close()

    asyncio.run(scenario())
