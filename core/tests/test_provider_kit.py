"""podium.provider_kit: what provider plugins share, each piece as a plugin author relies on it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import pytest

import podium
from podium import provider_kit as kit
from podium.testing import MinuteQuota


def _positive(instance: Any, attribute: Any, value: int | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


@attrs.define
class Options:
    api_key: podium.Secret | None = None
    max_tokens: int | None = attrs.field(default=None, validator=_positive)
    stop: list[str] | None = None
    system: str | None = None


def structure(options: dict[str, Any], **kwargs: Any) -> Options:
    return kit.structure_options(podium.Config(), options, Options, "agents.w", provider="mine", **kwargs)


def test_structure_options_types_values_and_keeps_keys_secret() -> None:
    options = structure({"api_key": "k-1", "max_tokens": 12, "stop": ["END"]})
    assert options == Options(podium.Secret("k-1"), 12, ["END"])
    assert "k-1" not in repr(options)


@pytest.mark.parametrize(
    ("options", "kwargs", "expected"),
    [
        (
            {"max_tokenz": 1},
            {},
            "unknown option 'max_tokenz' (known: api_key, max_tokens, stop, system) @ agents.w.max_tokenz",
        ),
        (
            {"system": "s"},
            {"allowed": ("max_tokens",)},
            "unknown option 'system' (known: max_tokens) @ agents.w.system",
        ),
        ({"top_k": 3}, {"refused": {"top_k": "was removed"}}, "'top_k' was removed @ agents.w.top_k"),
        ({"stop": "END"}, {}, "expected a list of strings, got 'END' @ agents.w.stop"),
        ({"max_tokens": 0}, {}, "max_tokens must be > 0, got 0"),
        ({"max_tokens": "many"}, {}, "@ agents.w.max_tokens"),
        (
            {"nope": 1},
            {"hint": "; others go in params"},
            "(known: api_key, max_tokens, stop, system; others go in params)",
        ),
    ],
)
def test_structure_options_names_every_bad_key_with_its_path(
    options: dict[str, Any], kwargs: dict[str, Any], expected: str
) -> None:
    with pytest.raises(podium.ConfigError) as info:
        structure(options, **kwargs)
    assert str(info.value).startswith("agents.w: invalid options for provider 'mine':")
    assert expected in str(info.value)


def test_fill_takes_the_lower_layers_value_only_where_the_upper_has_none() -> None:
    merged = kit.fill(Options(max_tokens=5), Options(max_tokens=100, system="s"))
    assert merged == Options(max_tokens=5, system="s")


def test_resolve_key_prefers_what_is_given_then_the_environment() -> None:
    env = {"MINE_KEY": "from-env"}
    given = kit.resolve_key(
        None, podium.Secret("given"), env_var="MINE_KEY", where="w", provider="mine", env=env
    )
    assert given == podium.Secret("given")
    assert kit.resolve_key(None, env_var="MINE_KEY", where="w", provider="mine", env=env) == podium.Secret(
        "from-env"
    )
    assert kit.resolve_key(env_var="MINE_KEY", where="w", provider="mine", required=False, env={}) is None


def test_a_missing_key_says_where_to_put_one() -> None:
    with pytest.raises(
        podium.ConfigError,
        match=r"agents\.w: no API key for provider 'mine': set MINE_KEY, or api_key in \[plugins\.mine\]",
    ):
        kit.resolve_key(None, env_var="MINE_KEY", where="agents.w", provider="mine", env={})


def test_resolve_url_falls_back_to_the_environment_then_the_default_and_checks_the_scheme() -> None:
    assert (
        kit.resolve_url(None, "", env_var="U", default="https://api.example/", where="w", env={})
        == "https://api.example"
    )
    assert (
        kit.resolve_url(None, env_var="U", default="x", where="w", env={"U": "http://127.0.0.1:9/v1"})
        == "http://127.0.0.1:9/v1"
    )
    with pytest.raises(podium.ConfigError, match="base_url must be an http"):
        kit.resolve_url("api.example.com", env_var="U", default="x", where="w", env={})


class Client:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def test_a_loop_client_is_made_again_for_a_new_event_loop_and_closed_on_its_own() -> None:
    clients = kit.LoopClient(Client, lambda client: client.close())

    async def use() -> Client:
        first = clients.get()
        assert clients.get() is first
        return first

    one, two = asyncio.run(use()), asyncio.run(use())
    assert one is not two
    assert one.closed and not two.closed, "the client of a closed loop is closed when the next takes over"

    async def close() -> Client:
        client = clients.get()
        await clients.aclose()
        return client

    assert asyncio.run(close()).closed

    left = asyncio.run(use())
    asyncio.run(clients.aclose())  # from another loop, once the client's own has closed
    assert left.closed


async def test_a_closer_closes_the_clients_of_the_engine_that_stops() -> None:
    closer = kit.Closer()
    clients = kit.LoopClient(Client, lambda client: client.close())
    async with podium.Engine(config=podium.Config(), cache_url=False) as engine:
        client = clients.get()
        closer.track(engine.config, clients)
        assert closer.close(podium.Engine(config=podium.Config(), cache_url=False)) is None
        stopping = closer.close(engine)
        assert stopping is not None
        await stopping
    assert client.closed


def test_a_shown_url_keeps_where_the_request_went_but_no_credentials_or_query() -> None:
    shown = kit.shown_url("https://user:s3cret@llm.example.com:8443/v1/chat/completions?api-key=k#top")
    assert shown == "https://llm.example.com:8443/v1/chat/completions"


def test_excerpt_is_one_short_line() -> None:
    assert kit.excerpt("<html>\n  <h1>502</h1>\n</html>") == "<html> <h1>502</h1> </html>"
    assert kit.excerpt("x" * 300).endswith("...") and len(kit.excerpt("x" * 300)) == 203
    assert kit.excerpt(None) == "(no message)"


def test_a_secret_masks_itself_in_a_text() -> None:
    assert podium.Secret("sk-1").mask("bad key sk-1 given") == "bad key ******** given"
    assert podium.Secret("").mask("nothing to hide") == "nothing to hide"


def test_a_minute_quota_admits_up_to_its_limits_then_frees_after_a_minute() -> None:
    now = [1000.0]
    quota = MinuteQuota(clock=lambda: now[0])
    limits = {"requests_per_minute": 2, "tokens_per_minute": 100}
    assert quota.admit(40, **limits).admitted and quota.admit(40, **limits).admitted
    refused = quota.admit(1, **limits)
    assert (refused.admitted, refused.requests, refused.tokens, refused.reset_s) == (False, 2, 80, 60.0)
    now[0] += 60
    assert quota.admit(90, **limits).admitted
    assert not quota.admit(20, **limits).admitted  # tokens, not requests, now bind


class MyAgent(kit.ProviderAgent[Client, Options]):
    provider = "mine"
    options_type = Options
    call_options = ("max_tokens", "system")
    refused: ClassVar[Mapping[str, str]] = {"temperature": "is not accepted by this API"}

    def new_client(self) -> Client:
        return Client()

    async def complete(self, prompt: str | podium.Prompt, **options: Any) -> podium.AgentReply:
        return podium.AgentReply(str(self.call(options).max_tokens), model=self.model)


async def test_a_provider_agent_merges_call_options_over_its_own_and_refuses_the_rest() -> None:
    config = podium.Config()
    agent = MyAgent(
        "w", "m-1", None, MyAgent.structure(config, {"api_key": "k", "max_tokens": 9}, "agents.w"), config
    )

    assert isinstance(agent, podium.Agent)
    assert (await agent.complete("hi")).text == "9" and (await agent.complete("hi", max_tokens=3)).text == "3"
    assert agent.reply_options == {"max_tokens": 9, "system": None}
    with pytest.raises(podium.ConfigError, match=r"unknown option 'api_key' \(known: max_tokens, system\)"):
        await agent.complete("hi", api_key="other")
    with pytest.raises(podium.ConfigError, match="'temperature' is not accepted by this API"):
        MyAgent.structure(config, {"temperature": 1}, "agents.w")
    client = agent.client()
    await agent.aclose()
    assert client.closed and agent.client() is not client


def test_a_provider_agent_without_new_client_cannot_be_made() -> None:
    class NoClient(kit.ProviderAgent[Client, Options]):  # forgot new_client
        provider = "mine"
        options_type = Options

    config = podium.Config()
    with pytest.raises(TypeError, match=r"abstract method.*new_client"):
        NoClient("w", "m-1", None, Options(), config)  # type: ignore[abstract]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, "rate_limited"),
        (529, "overloaded"),
        (503, "overloaded"),
        (502, "server_error"),
        (504, "timeout"),
        (401, "authentication"),
        (400, "bad_request"),
        (418, "other"),
    ],
)
def test_kind_for_status_reads_http_semantics(status: int, kind: str) -> None:
    assert kit.kind_for_status(status) == podium.ProviderErrorKind(kind)


@attrs.define
class Section:
    timeout: float = attrs.field(default=1.0, validator=kit.positive)
    base_url: str = attrs.field(default="", validator=kit.http_url)


def test_the_validators_refuse_a_non_positive_number_and_a_url_without_scheme() -> None:
    with pytest.raises(ValueError, match="timeout must be > 0, got 0"):
        Section(timeout=0)
    with pytest.raises(ValueError, match="base_url must be an http"):
        Section(base_url="localhost:80")
    assert Section(base_url="https://x").base_url == "https://x"
