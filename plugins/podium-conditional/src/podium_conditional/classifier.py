"""The agent-backed classifier: a named agent chooses where a stage's workflow goes next.

Configured per stage in ``[[plugins.conditional.classifiers]]``. The agent is called
through ``ctx.agent(name)``, so its tokens and cost are accounted to the routing stage
and its call is announced to plugins like any other. Its answer must name exactly one
candidate; anything else fails the stage with the answer quoted.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from podium import Context, RoutingError, Stage, hookimpl
from podium_conditional.settings import SECTION, ClassifierRule, ConditionalSettings

#: How much of the stage's value the prompt shows (a route needs the gist, not everything).
VALUE_CHARS = 4000


def prompt_for(classifier: ClassifierRule, stage: Stage, value: Any, candidates: Sequence[str]) -> str:
    """The prompt sent to the classifying agent."""
    shown = repr(value) if not isinstance(value, str) else value
    if len(shown) > VALUE_CHARS:
        shown = shown[:VALUE_CHARS] + " [...]"
    lines = [
        f"Stage {stage.name!r} of a workflow finished. Decide which step runs next.",
    ]
    if classifier.instructions:
        lines.append(classifier.instructions)
    lines += [
        "",
        "Result of the stage:",
        shown,
        "",
        f"Answer with exactly one of these names and nothing else: {', '.join(candidates)}",
    ]
    return "\n".join(lines)


def parse_choice(answer: str, candidates: Sequence[str]) -> str | None:
    """The one candidate ``answer`` names (exact, else the only one mentioned), or ``None``."""
    cleaned = answer.strip().strip("`'\".* \n\t").lower()
    by_lower = {c.lower(): c for c in candidates}
    if cleaned in by_lower:
        return by_lower[cleaned]
    mentioned = {
        c for c in candidates if re.search(rf"(?<![\w-]){re.escape(c.lower())}(?![\w-])", answer.lower())
    }
    return mentioned.pop() if len(mentioned) == 1 else None


async def classify(
    classifier: ClassifierRule, stage: Stage, value: Any, ctx: Context, candidates: Sequence[str]
) -> str:
    """Ask the configured agent and return the candidate it chose."""
    reply = await ctx.agent(classifier.agent).complete(prompt_for(classifier, stage, value, candidates))
    choice = parse_choice(reply.text, candidates)
    if choice is None:
        answer = reply.text if len(reply.text) <= 200 else reply.text[:200] + "..."
        raise RoutingError(
            f"agent {classifier.agent!r} classifying stage {stage.name!r} answered {answer!r}, "
            f"which names none or several of the candidates ({', '.join(candidates)})"
        )
    return choice


@hookimpl
def podium_register_config_sections(register: Callable[[str, type], None]) -> None:
    register(SECTION, ConditionalSettings)


@hookimpl
def podium_route(stage: Stage, value: Any, ctx: Context, candidates: Sequence[str]) -> Awaitable[str] | None:
    """Take the call only for stages with a configured classifier (declining synchronously)."""
    settings = ctx.run.config.section(SECTION)
    if not isinstance(settings, ConditionalSettings):
        return None
    classifier = settings.classifier_for(stage.name)
    if classifier is None:
        return None
    return classify(classifier, stage, value, ctx, candidates)
