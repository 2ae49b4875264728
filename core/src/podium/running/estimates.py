"""Expected stage durations, learned from past runs, for strategies that order by them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from podium.values.model import StageResult, StageStatus

if TYPE_CHECKING:
    from podium.definition.plan import Plan
    from podium.definition.workflow import Workflow


class DurationEstimator:
    """Seconds a stage is expected to take: its ``estimate=``, else a moving average, else 1.

    :param weight: Weight of the newest duration in a stage's exponential moving average.
    """

    def __init__(self, weight: float = 0.3) -> None:
        self.weight = weight
        self._durations: dict[tuple[str, str], float] = {}

    def __repr__(self) -> str:
        return f"<DurationEstimator {len(self._durations)} stage(s) learned>"

    def estimates(self, workflow: Workflow, plan: Plan) -> list[float]:
        """Expected seconds per stage index of ``plan``."""
        durations = self._durations
        return [
            s.estimate if s.estimate is not None else durations.get((workflow.name, s.name), 1.0)
            for s in plan.stages
        ]

    def learn(self, workflow: Workflow, results: Sequence[StageResult]) -> None:
        """Fold the durations of the stages that ran into their moving averages."""
        for result in results:
            if result.status is not StageStatus.SUCCEEDED:
                continue
            key = (workflow.name, result.name)
            previous = self._durations.get(key)
            self._durations[key] = (
                result.duration_s
                if previous is None
                else previous + self.weight * (result.duration_s - previous)
            )
