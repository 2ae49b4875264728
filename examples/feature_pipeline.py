"""A feature pipeline: spec, three agents in parallel, a review that routes to fix or ship, a report.

Runs offline on simulated agents (scripted latency and token usage), so it is
deterministic and takes a few seconds::

    podium run examples/feature_pipeline.py
    podium run examples/feature_pipeline.py --input ticket="Add rate limits to /login (bug)"

A ticket mentioning "bug" fails the first review, so the run goes through ``fix``. The agent
stages are cached (by default in `.podium/cache.sqlite3`): run it twice and the second run
spends no tokens, reporting what it saved.

On Claude, the agent profile beside this file replaces the simulated agents (podium-anthropic,
with ``ANTHROPIC_API_KEY`` set)::

    podium run examples/feature_pipeline.py --agents anthropic
"""

from __future__ import annotations

from collections.abc import Callable

import podium

MODEL = "claude-sonnet-4-5"

wf = podium.Workflow(
    "feature",
    strategy="conditional",
    max_concurrency=8,
    timeout=60,
    budget=podium.Budget(tokens=200_000, cost_usd=2.0, duration_s=120),
    inputs={"ticket": "Add CSV export to the reports page"},
    description="Spec a ticket, implement and test it in parallel, review, then fix or ship.",
)


# Agent stages are cached by their inputs: a second run of the same ticket spends nothing.
CACHED = podium.CachePolicy(ttl=24 * 3600)


@wf.stage(timeout=30, retry=podium.Retry(attempts=3, delay=0.2), cache=CACHED)
async def spec(ctx: podium.Context, ticket: str) -> str:
    """Turn the ticket into a specification."""
    reply = await ctx.agent("planner").complete(f"Write a short specification for: {ticket}")
    return reply.text


@wf.stage(needs=["spec"], timeout=30, retry=podium.Retry(attempts=3, delay=0.2), cache=CACHED)
async def backend(ctx: podium.Context, spec: str) -> str:
    """Implement the server side."""
    return (await ctx.agent("coder").complete(f"Implement the backend for:\n{spec}")).text


@wf.stage(needs=["spec"], timeout=30, retry=podium.Retry(attempts=3, delay=0.2), cache=CACHED)
async def frontend(ctx: podium.Context, spec: str) -> str:
    """Implement the user interface."""
    return (await ctx.agent("coder").complete(f"Implement the frontend for:\n{spec}")).text


@wf.stage(needs=["spec"], timeout=30, retry=podium.Retry(attempts=3, delay=0.2), cache=CACHED)
async def tests(ctx: podium.Context, spec: str) -> str:
    """Write the tests."""
    return (await ctx.agent("tester").complete(f"Write tests for:\n{spec}")).text


def verdict(review: str) -> str:
    """Route the review: approved work ships, the rest is fixed first."""
    return "ship" if review.startswith("APPROVED") else "fix"


@wf.stage(needs=["backend", "frontend", "tests"], route=verdict, timeout=30)
async def review(ctx: podium.Context, ticket: str, backend: str, frontend: str, tests: str) -> str:
    """Review the three pieces together."""
    prompt = f"Review this change for {ticket!r}:\n{backend}\n{frontend}\n{tests}"
    return (await ctx.agent("reviewer").complete(prompt)).text


@wf.stage(needs=["review"], timeout=30)
async def fix(ctx: podium.Context, review: str) -> str:
    """Address the review's findings."""
    return (await ctx.agent("coder").complete(f"Fix these findings:\n{review}")).text


@wf.stage(needs=["review"])
async def ship(review: str) -> str:
    """Merge and release."""
    return "released"


@wf.stage(needs_any=["fix", "ship"])
async def report(ctx: podium.Context, fix: str | None = None, ship: str | None = None) -> str:
    """Summarize what happened for the ticket's thread."""
    outcome = "shipped" if ship else "fixed, awaiting re-review"
    spent = ctx.run.usage
    return f"{outcome}; {spent.total_tokens} tokens, ${spent.cost_usd:.4f} so far"


def _review_reply(prompt: str) -> str:
    if "bug" in prompt.lower():
        return "CHANGES REQUESTED: the rate limit is not applied to retries."
    return "APPROVED: clean change, good tests."


@podium.hookimpl
def podium_register_agents(register: Callable[[str, podium.Agent], None]) -> None:
    """The simulated agents this example runs on (a real deployment registers LLM agents)."""
    register(
        "planner",
        podium.SimulatedAgent(
            "Spec: add an export button; stream rows as CSV; 10k rows max.",
            model=MODEL,
            latency=0.6,
            input_tokens=1_200,
            output_tokens=450,
        ),
    )
    register(
        "coder",
        podium.SimulatedAgent(
            "def export_csv(rows): ...", model=MODEL, latency=0.9, input_tokens=2_400, output_tokens=1_100
        ),
    )
    register(
        "tester",
        podium.SimulatedAgent(
            "def test_export_csv(): ...", model=MODEL, latency=0.7, input_tokens=1_800, output_tokens=800
        ),
    )
    register(
        "reviewer",
        podium.SimulatedAgent(_review_reply, model=MODEL, latency=0.5, input_tokens=3_500, output_tokens=300),
    )
