"""Strategies are scheduling *policies*; the scheduling loop itself lives once, in the kernel.

A strategy plugin registers an instance of a :class:`Strategy` subclass through
``podium_register_strategies``. It decides only what differs between strategies: how
many stages may run at once, which ready stage starts first, which workflows it accepts,
and — through a :class:`Router` — where a run goes after a stage. Dependencies, failures,
skips, budgets, timeouts, cancellation and the bookkeeping of loops are the kernel's
(:class:`podium.RunState`), so every strategy gets them right the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from podium.definition.plan import Plan
    from podium.definition.workflow import Stage, Workflow
    from podium.running.context import Context
    from podium.running.scheduler import RunState


@runtime_checkable
class Router(Protocol):
    """Decides, for one run, where the run goes after a stage succeeded.

    A strategy's :meth:`Strategy.router` makes one per run. The kernel asks
    :meth:`routes` once per stage when the run starts and calls :meth:`choose` only for
    the stages it claimed, inside the stage's task (so a choice may call agents through
    ``ctx``), before the stage's result is announced.
    """

    def routes(self, stage: Stage) -> bool:
        """Whether this router decides where the run goes after ``stage``."""
        ...

    def choose(self, stage: Stage, value: Any, ctx: Context) -> Awaitable[Sequence[str] | None]:
        """The stages to run after ``stage`` succeeded with ``value``.

        Return ``None`` to let every dependent run. Otherwise name direct dependents of
        ``stage`` (the others, and what only they lead to, are skipped with the route as
        reason), or earlier stages to run again (a loop: the kernel resets them and
        everything after them). Raise (e.g. :class:`podium.RoutingError`) to fail the
        stage; the message is the stage's error.
        """
        ...


class Strategy:
    """Base class of scheduling policies. Override what differs; keep the rest.

    Everything here is public API for strategy plugins: :attr:`name`,
    :meth:`concurrency`, :meth:`priorities`, :meth:`check` and :meth:`router`.
    """

    #: The name workflows use in ``strategy=``.
    name: ClassVar[str] = ""

    def concurrency(self, workflow: Workflow) -> int | None:
        """At most this many stages run at once; ``None`` for no limit."""
        return workflow.max_concurrency

    def priorities(self, plan: Plan, estimates: Sequence[float]) -> Sequence[Any] | None:
        """A sort key per stage index: among ready stages the smallest starts first.

        ``None`` (the default) starts ready stages in declaration order. Called once per
        run, and only when the concurrency cap can bind (more stages than the cap) and
        the strategy overrides this method. ``estimates`` holds each stage's expected
        duration in seconds (declared ``estimate=``, else the engine's moving average of
        past runs of strategies that order by it, else 1.0), by stage index.
        """
        return None

    def check(self, workflow: Workflow, plan: Plan) -> list[str]:
        """Definition errors of ``workflow`` under this strategy, one message each.

        Called before a run starts (and by ``podium validate``), after the workflow's own
        checks, once per definition: an engine remembers that a plan passed. The default
        refuses what needs a router: ``route=`` and ``max_visits``.
        """
        errors = []
        routed = [stage.name for stage in plan.stages if stage.route is not None]
        if routed:
            errors.append(
                f"stages {', '.join(map(repr, routed))} declare routes, which strategy "
                f"{self.name!r} does not honour"
            )
        looping = [stage.name for stage in plan.stages if stage.max_visits > 1]
        if looping:
            errors.append(
                f"stages {', '.join(map(repr, looping))} allow loops (max_visits > 1), which "
                f"strategy {self.name!r} does not support"
            )
        return errors

    def router(self, run: RunState) -> Router | None:
        """What decides routes in ``run``; ``None`` (the default): no stage routes."""
        return None

    @property
    def routes(self) -> bool:
        """Whether this strategy can route (it overrides :meth:`router`)."""
        return type(self).router is not Strategy.router

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
