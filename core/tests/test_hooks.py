"""Each hook does what its specification promises; one test per hook, named after it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs
import pytest
from aiocache import Cache

import podium
from podium.testing import HookRecorder
from podium.values.alerts import Alert


class ForwardRouter:
    """The smallest router a third-party strategy could write: ``podium_route`` decides."""

    def __init__(self, run: podium.RunState) -> None:
        self.run = run

    def routes(self, stage: podium.Stage) -> bool:
        return bool(self.run.plan.dependents[self.run.plan.index[stage.name]])

    async def choose(self, stage: podium.Stage, value: Any, ctx: podium.Context) -> Sequence[str] | None:
        plan = self.run.plan
        candidates = [plan.stages[j].name for j in plan.dependents[plan.index[stage.name]]]
        chosen = self.run.hook.podium_route(stage=stage, value=value, ctx=ctx, candidates=candidates)
        if chosen is None:
            return None
        targets = [chosen] if isinstance(chosen, str) else list(chosen)
        for target in targets:
            if target not in candidates:
                raise podium.RoutingError(
                    f"stage {stage.name!r} routed to {target!r}, which is not one of its dependents "
                    f"({', '.join(candidates)})"
                )
        return targets


class Routing(podium.Strategy):
    """A strategy that routes forward only, for kernel-level routing tests."""

    name = "routing-test"

    def check(self, workflow: podium.Workflow, plan: podium.Plan) -> list[str]:
        return []

    def router(self, run: podium.RunState) -> ForwardRouter:
        return ForwardRouter(run)


class RoutingPlugin:
    @podium.hookimpl
    def podium_register_strategies(self, register: Callable[[podium.Strategy], None]) -> None:
        register(Routing())


def workflow(strategy: str = "sequential") -> podium.Workflow:
    return podium.Workflow("hooks", strategy=strategy)


async def run(
    wf: podium.Workflow, *plugins: object, inputs: Mapping[str, Any] | None = None, **engine_options: Any
) -> tuple[podium.RunResult, podium.Engine]:
    engine_options.setdefault("cache_url", "memory://")
    async with podium.Engine(
        config=podium.Config(), plugins=[RoutingPlugin(), *plugins], **engine_options
    ) as engine:
        return await engine.run(wf, inputs), engine


async def test_podium_register_executors_adds_a_place_to_run_bodies() -> None:
    ran_in: list[str] = []

    class Recording:
        def submit(self, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Awaitable[Any]:
            ran_in.append("recording")
            return fn(**kwargs)  # type: ignore[no-any-return]

    class Plugin:
        @podium.hookimpl
        def podium_register_executors(self, register: Callable[[str, Any], None]) -> None:
            register("recording", Recording())

    wf = workflow()

    @wf.stage(executor="recording")
    async def body() -> int:
        return 7

    result, _ = await run(wf, Plugin())
    assert result["body"].value == 7 and ran_in == ["recording"]


async def test_an_unregistered_executor_is_a_definition_error() -> None:
    wf = workflow()

    @wf.stage(executor="gpu")
    async def body() -> None: ...

    with pytest.raises(podium.DefinitionError, match="executor 'gpu', which is not registered"):
        await run(wf)


async def test_podium_execute_stage_wrappers_see_every_attempt() -> None:
    seen: list[int] = []

    class Timing:
        @podium.hookimpl(wrapper=True)
        def podium_execute_stage(self, attempt: int) -> Any:
            awaitable = yield

            async def timed() -> Any:
                seen.append(attempt)
                return await awaitable

            return timed()

    wf = workflow()
    calls = []

    @wf.stage(retry=podium.Retry(attempts=2, delay=0))
    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError
        return "ok"

    result, _ = await run(wf, Timing())
    assert result.ok and seen == [1, 2]


async def test_podium_register_alert_sinks_and_podium_alert_raised_receive_each_alert_once() -> None:
    sent: list[Alert] = []
    raised: list[Alert] = []

    class Sink:
        async def send(self, alert: Alert) -> None:
            sent.append(alert)

    class Plugin:
        @podium.hookimpl
        def podium_register_alert_sinks(self, register: Callable[[Any], None]) -> None:
            register(Sink())

        @podium.hookimpl
        def podium_alert_raised(self, alert: Alert) -> None:
            raised.append(alert)

    wf = workflow()
    wf.budget = podium.Budget(tokens=1)

    @wf.stage
    async def spend(ctx: podium.Context) -> None:
        ctx.record_usage(input_tokens=5)

    async with podium.Engine(config=podium.Config(), plugins=[Plugin()]) as engine:
        await engine.run(wf)
        await engine.run(wf)  # the same alert again, within the de-duplication window
    assert [a.name for a in sent] == ["budget_exceeded"]
    assert raised == sent


async def test_podium_budget_exceeded_says_which_limit() -> None:
    reasons: list[str] = []

    class Plugin:
        @podium.hookimpl
        def podium_budget_exceeded(self, reason: str, usage: podium.Usage) -> None:
            reasons.append(f"{reason} ({usage.total_tokens})")

    wf = workflow()
    wf.budget = podium.Budget(tokens=10)

    @wf.stage
    async def spend(ctx: podium.Context) -> None:
        ctx.record_usage(input_tokens=6, output_tokens=6)

    await run(wf, Plugin())
    assert reasons == ["tokens 12 > 10 (12)"]


@attrs.define
class Section:
    greeting: str = "hello"


async def test_podium_register_config_sections_structures_the_plugins_section() -> None:
    class Plugin:
        @podium.hookimpl
        def podium_register_config_sections(self, register: Callable[[str, type], None]) -> None:
            register("greeter", Section)

    config = podium.Config({"plugins": {"greeter": {"greeting": "hi"}}})
    async with podium.Engine(config=config, plugins=[Plugin()]) as engine:
        assert engine.config.section("greeter") == Section("hi")


async def test_podium_engine_started_and_podium_engine_stopping_bracket_the_engine() -> None:
    log: list[str] = []

    class Plugin:
        @podium.hookimpl
        def podium_engine_started(self, engine: podium.Engine) -> Awaitable[None]:
            async def open_client() -> None:
                log.append("started")

            return open_client()

        @podium.hookimpl
        def podium_engine_stopping(self) -> None:
            log.append("stopping")

    async with podium.Engine(config=podium.Config(), plugins=[Plugin()]):
        log.append("running")
    assert log == ["started", "running", "stopping"]


async def test_podium_cache_key_from_a_plugin_replaces_the_builtin() -> None:
    class Plugin:
        @podium.hookimpl
        def podium_cache_key(self, stage: podium.Stage) -> str:
            return f"fixed:{stage.name}"

    wf = workflow()
    calls = []

    @wf.stage(cache=True)
    async def body(x: int) -> int:
        calls.append(x)
        return x

    async with podium.Engine(config=podium.Config(), plugins=[Plugin()]) as engine:
        await engine.run(wf, {"x": 1})
        second = await engine.run(wf, {"x": 2})  # a different input, but the plugin's key is the same
    assert calls == [1] and second["body"].value == 1


async def test_podium_cache_backend_provides_the_backend_for_a_url_scheme() -> None:
    backend = Cache(Cache.MEMORY)

    class Plugin:
        @podium.hookimpl
        def podium_cache_backend(self, url: str) -> Any:
            return backend if url.startswith("custom://") else None

    wf = workflow()

    @wf.stage(cache=True)
    async def body() -> int:
        return 3

    await run(wf, Plugin(), cache_url="custom://anything")
    assert len(await backend.raw("keys")) == 1


async def test_an_unknown_cache_scheme_is_an_error() -> None:
    with pytest.raises(
        podium.PodiumError, match="no installed plugin provides the cache backend for 'nope://x'"
    ):
        await podium.Engine(config=podium.Config(), cache_url="nope://x").start()


async def test_podium_cache_hit_and_podium_cache_miss_report_the_key_and_savings() -> None:
    events: list[tuple[str, str, int]] = []

    class Plugin:
        @podium.hookimpl
        def podium_cache_miss(self, kind: str, key: str) -> None:
            events.append(("miss", kind, 0))

        @podium.hookimpl
        def podium_cache_hit(self, kind: str, key: str, saved: podium.Usage) -> None:
            events.append(("hit", kind, saved.total_tokens))

    wf = workflow()

    @wf.stage(cache=True)
    async def body(ctx: podium.Context) -> int:
        ctx.record_usage(input_tokens=40, output_tokens=2)
        return 1

    async with podium.Engine(config=podium.Config(), plugins=[Plugin()]) as engine:
        await engine.run(wf)
        await engine.run(wf)
    assert events == [("miss", "stage", 0), ("hit", "stage", 42)]


async def test_podium_route_picks_dependents_and_podium_route_taken_reports_it() -> None:
    taken: list[tuple[Sequence[str], Sequence[str]]] = []

    class Plugin:
        @podium.hookimpl
        def podium_route(self, stage: podium.Stage, candidates: Sequence[str]) -> str | None:
            return "right" if stage.name == "decide" else None

        @podium.hookimpl
        def podium_route_taken(self, targets: Sequence[str], skipped: Sequence[str]) -> None:
            taken.append((tuple(targets), tuple(skipped)))

    wf = workflow("routing-test")

    @wf.stage
    async def decide() -> str:
        return "anything"

    @wf.stage(needs=["decide"])
    async def left() -> str:
        return "l"

    @wf.stage(needs=["decide"])
    async def right() -> str:
        return "r"

    result, _ = await run(wf, Plugin())
    assert result["right"].value == "r"
    assert result["left"].reason == "not chosen by the route of 'decide' (chose right)"
    assert result["decide"].route == ("right",)
    assert taken == [(("right",), ("left",))]


async def test_a_route_to_a_stage_that_is_not_a_dependent_fails_the_routing_stage_at_run_time() -> None:
    wf = workflow("routing-test")

    @wf.stage(route=lambda value: value)
    async def decide() -> str:
        return "elsewhere"

    @wf.stage(needs=["decide"])
    async def child() -> None: ...

    result, _ = await run(wf)
    assert isinstance(result["decide"].error, podium.RoutingError)
    assert "routed to 'elsewhere', which is not one of its dependents (child)" in str(result["decide"].error)


async def test_podium_fetch_docs_provides_documentation_and_podium_doc_fetch_ended_reports_it() -> None:
    finished: list[podium.DocBundle] = []

    class Docs:
        @podium.hookimpl
        def podium_fetch_docs(self, libraries: Sequence[str], query: str, tokens: int | None) -> Any:
            async def fetch() -> podium.DocBundle:
                documents = tuple(
                    podium.Document(lib, f"/x/{lib}", f"{lib}: {query}", 10) for lib in libraries
                )
                return podium.DocBundle(documents, query=query, budget=tokens)

            return fetch()

        @podium.hookimpl
        def podium_doc_fetch_ended(self, bundle: podium.DocBundle) -> None:
            finished.append(bundle)

    wf = workflow()

    @wf.stage
    async def read(ctx: podium.Context) -> str:
        return (await ctx.docs(["fastapi", "pytest"], query="async", tokens=100)).text

    result, _ = await run(wf, Docs())
    assert "fastapi: async" in result["read"].value and "pytest: async" in result["read"].value
    assert finished[0].tokens == 20


async def test_ctx_docs_without_a_provider_names_the_package_to_install() -> None:
    wf = workflow()

    @wf.stage
    async def read(ctx: podium.Context) -> None:
        await ctx.docs(["fastapi"], query="q")

    # With every plugin installed (nox -s tests), podium-context7 would answer: leave it out.
    result, _ = await run(wf, plugin_manager=podium.create_plugin_manager(disable=["context7"]))
    assert "pip install 'podium[context7]'" in str(result["read"].error)


async def test_podium_agent_call_started_and_podium_agent_call_ended_carry_model_and_usage() -> None:
    calls: list[tuple[str, str, int]] = []

    class Plugin:
        @podium.hookimpl
        def podium_agent_call_started(self, call: podium.AgentCall) -> None:
            calls.append(("started", call.model, 0))

        @podium.hookimpl
        def podium_agent_call_ended(self, call: podium.AgentCall) -> None:
            calls.append(("finished", call.model, call.usage.total_tokens))

    wf = workflow()

    @wf.stage
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("bot").complete("hi")).text

    agent = podium.SimulatedAgent("yo", model="claude-haiku-4-5", input_tokens=3, output_tokens=4)
    await run(wf, Plugin(), agents={"bot": agent})
    assert calls == [("started", "claude-haiku-4-5", 0), ("finished", "claude-haiku-4-5", 7)]


async def test_an_unknown_agent_named_at_run_time_suggests_the_closest_name() -> None:
    wf = workflow()

    @wf.stage
    async def ask(ctx: podium.Context, who: str = "revewer") -> None:
        await ctx.agent(who).complete("hi")  # not a literal: found only when the stage runs

    result, _ = await run(wf, agents={"reviewer": podium.SimulatedAgent()})
    assert "no agent named 'revewer' (did you mean 'reviewer'?)" in str(result["ask"].error)


async def test_podium_stage_retried_reports_attempt_error_and_delay(
    podium_hook_recorder: HookRecorder, podium_engine: Any
) -> None:
    wf = workflow()
    calls = []

    @wf.stage(retry=podium.Retry(attempts=2, delay=0.01, jitter=False))
    async def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("blip")

    async with podium_engine() as engine:
        await engine.run(wf)
    (call,) = podium_hook_recorder.of("podium_stage_retried")
    assert call.kwargs["attempt"] == 1 and call.kwargs["delay"] == 0.01
    assert isinstance(call.kwargs["error"], ConnectionError)


async def test_podium_stage_ended_explains_cancelled_and_skipped_stages(
    podium_hook_recorder: HookRecorder, podium_engine: Any
) -> None:
    wf = workflow()
    wf.timeout = 0.05

    @wf.stage
    async def stuck() -> None:
        await asyncio.sleep(5)

    @wf.stage(needs=["stuck"])
    async def after() -> None: ...

    async with podium_engine() as engine:
        await engine.run(wf)
    cancelled, skipped = (call.kwargs["result"] for call in podium_hook_recorder.of("podium_stage_ended"))
    assert cancelled.status is podium.StageStatus.CANCELLED and skipped.status is podium.StageStatus.SKIPPED
    assert cancelled.reason == "workflow timed out after 0.05s"
    assert skipped.reason == "dependency 'stuck' was cancelled"


async def test_podium_register_strategies_makes_a_strategy_available_by_name() -> None:
    wf = workflow("routing-test")

    @wf.stage
    async def one() -> int:
        return 1

    result, engine = await run(wf)
    assert result.ok and isinstance(engine.strategies["routing-test"], Routing)


async def test_podium_register_agents_makes_agents_available_to_stages() -> None:
    class Plugin:
        @podium.hookimpl
        def podium_register_agents(self, register: Callable[[str, Any], None], config: podium.Config) -> None:
            register("helper", podium.SimulatedAgent("at your service"))

    wf = workflow()

    @wf.stage
    async def ask(ctx: podium.Context) -> str:
        return (await ctx.agent("helper").complete("hi")).text

    result, _ = await run(wf, Plugin())
    assert result["ask"].value == "at your service"


async def test_podium_workflow_started_and_podium_workflow_ended_bracket_a_run() -> None:
    seen: list[str] = []

    class Plugin:
        @podium.hookimpl
        def podium_workflow_started(self, run: podium.RunState) -> None:
            seen.append(f"started {run.workflow.name} {len(run.results)}")

        @podium.hookimpl
        def podium_workflow_ended(self, run: podium.RunState, result: podium.RunResult) -> None:
            seen.append(f"finished {result.status} {len(result)}")

    wf = workflow()

    @wf.stage
    async def one() -> None: ...

    await run(wf, Plugin())
    assert seen == ["started hooks 0", "finished succeeded 1"]


async def test_podium_stage_started_runs_inside_the_stage_task_so_context_reaches_the_body() -> None:
    import contextvars

    current = contextvars.ContextVar("current", default="none")

    class Plugin:
        @podium.hookimpl
        def podium_stage_started(self, stage: podium.Stage) -> None:
            current.set(f"span of {stage.name}")

    wf = workflow()

    @wf.stage
    async def body() -> str:
        return current.get()

    result, _ = await run(wf, Plugin())
    assert result["body"].value == "span of body"
    assert current.get() == "none"  # nothing leaks out of the stage's task


async def test_podium_stage_ended_reports_each_outcome_with_its_result() -> None:
    seen: list[tuple[str, str]] = []

    class Plugin:
        @podium.hookimpl
        def podium_stage_ended(self, result: podium.StageResult) -> None:
            detail = {"failed": result.error, "skipped": result.reason}.get(result.status.value)
            seen.append((result.status.value, result.name + (f": {detail}" if detail else "")))

    wf = workflow()

    @wf.stage
    async def good() -> None: ...

    @wf.stage
    async def bad() -> None:
        raise ValueError("nope")

    @wf.stage(needs=["bad"])
    async def child() -> None: ...

    await run(wf, Plugin())
    assert seen == [
        ("succeeded", "good"),
        ("failed", "bad: nope"),
        ("skipped", "child: dependency 'bad' failed"),
    ]


async def test_podium_register_providers_adds_agent_factories_by_name() -> None:
    class EchoAgent:
        provider = "echo"

        def __init__(self, spec: podium.AgentSpec) -> None:
            self.model = spec.model

        async def complete(self, prompt: str | podium.Prompt, **options: Any) -> podium.AgentReply:
            return podium.AgentReply(podium.Prompt.of(prompt).text.upper(), model=self.model)

    class Plugin:
        @podium.hookimpl
        def podium_register_providers(self, register: Callable[[str, podium.ProviderFactory], None]) -> None:
            register("echo", lambda spec, config: EchoAgent(spec))

    async with podium.Engine(config=podium.Config(), plugins=[Plugin()], cache_url=False) as engine:
        agent = engine.providers["echo"](podium.AgentSpec("shout", "echo", "echo-1"), engine.config)
        simulated = engine.providers["simulated"](
            podium.AgentSpec("sim", "simulated", "claude-haiku-4-5", {"reply": "hi", "latency": 0.0}),
            engine.config,
        )
    assert (await agent.complete(podium.Prompt("hey", system="be loud"))).text == "HEY"
    assert isinstance(simulated, podium.SimulatedAgent) and simulated.model == "claude-haiku-4-5"
    with pytest.raises(podium.ConfigError, match=r"agents\.sim: bad option for the simulated provider"):
        engine.providers["simulated"](podium.AgentSpec("sim", "simulated", "m", {"colour": 1}), engine.config)


def test_provider_errors_say_whether_another_attempt_may_help() -> None:
    limited = podium.ProviderError(
        "slow down", provider="p", kind=podium.ProviderErrorKind.RATE_LIMITED, status=429, retry_after=2.0
    )
    refused = podium.ProviderError("bad key", provider="p", kind="authentication", status=401)
    assert limited.transient and limited.retry_after == 2.0
    assert not refused.transient and refused.kind is podium.ProviderErrorKind.AUTHENTICATION
    assert "status=401" in repr(refused)
