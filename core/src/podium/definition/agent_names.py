"""The agents a stage calls, known before it runs, so a misspelt one fails before any token is spent.

A stage's agents are its ``agents=`` option when given, else the names of the literal
calls ``ctx.agent("name")`` in its source (``ctx`` being the parameter that receives the
context). A name computed at run time is found only when the stage runs.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import weakref
from collections.abc import Callable
from types import CodeType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.definition.plan import Plan
    from podium.definition.workflow import Stage

#: Per plan: (stage, agent) for every agent its stages name, in declaration order.
_BY_PLAN: weakref.WeakKeyDictionary[Plan, tuple[tuple[str, str], ...]] = weakref.WeakKeyDictionary()


def plan_agents(plan: Plan) -> tuple[tuple[str, str], ...]:
    """``(stage, agent)`` for each agent a stage of ``plan`` names (worked out once per plan)."""
    found = _BY_PLAN.get(plan)
    if found is None:
        scanned: dict[tuple[CodeType, str], tuple[str, ...]] = {}
        pairs = []
        for stage in plan.stages:
            for agent in stage_agents(stage, scanned):
                pairs.append((stage.name, agent))
        found = _BY_PLAN[plan] = tuple(pairs)
    return found


def stage_agents(
    stage: Stage, scanned: dict[tuple[CodeType, str], tuple[str, ...]] | None = None
) -> tuple[str, ...]:
    """The agents ``stage`` declares with ``agents=``, else those its source names literally.

    ``scanned`` memoizes sources by code object: stages made from one function share it.
    """
    if stage.agents is not None:
        return stage.agents
    if stage.context_parameter is None:
        return ()
    code: CodeType | None = getattr(inspect.unwrap(stage.fn), "__code__", None)
    if code is None:
        return ()
    key = (code, stage.context_parameter)
    if scanned is not None and key in scanned:
        return scanned[key]
    names = literal_agent_calls(stage.fn, stage.context_parameter)
    if scanned is not None:
        scanned[key] = names
    return names


def literal_agent_calls(fn: Callable[..., Any], context: str) -> tuple[str, ...]:
    """Names in ``<context>.agent("name")`` calls in ``fn``'s source, each once, in order."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return ()  # no source (a lambda in a REPL, a builtin): nothing to check early
    names: dict[str, None] = {}
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "agent"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == context
        ):
            continue
        argument = (
            node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        )
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names[argument.value] = None
    return tuple(names)
