"""What the CLI shows: live progress while a workflow runs, and the final summary table.

The progress display is an ordinary plugin object the CLI registers on its engine.
"""

from __future__ import annotations

import json
import time
from typing import Any

import attrs
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from podium.definition.workflow import Stage
from podium.foundation.markers import hookimpl
from podium.running.context import Context
from podium.running.mapping import item_label
from podium.running.scheduler import RunState
from podium.values.model import RunResult, StageResult, StageStatus, Usage

_STYLE = {
    StageStatus.SUCCEEDED: ("✓", "green"),
    StageStatus.CACHED: ("⚡", "cyan"),
    StageStatus.FAILED: ("✗", "red"),
    StageStatus.SKIPPED: ("-", "yellow"),
    StageStatus.CANCELLED: ("⊘", "magenta"),
}


class ProgressDisplay:
    """Shows each stage's state as the run goes: a live table on a terminal, lines elsewhere."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._rows: dict[str, tuple[str, str, str]] = {}
        self._started: dict[str, float] = {}
        self._live: Live | None = None
        self._run: RunState | None = None
        # Per mapped stage: the keys of the items running, and decided items by status.
        self._items: dict[str, tuple[set[Any], dict[StageStatus, int]]] = {}

    def _render(self) -> Table:
        table = Table(show_header=False, box=None, padding=(0, 1))
        for name, (mark, style, detail) in self._rows.items():
            table.add_row(Text(mark, style=style), name, Text(detail, style="dim"))
        return table

    def _update(self, name: str, mark: str, style: str, detail: str, line: bool = True) -> None:
        self._rows[name] = (mark, style, detail)
        if self._live is not None:
            self._live.update(self._render())
        elif line:
            self.console.print(Text.assemble((f"{mark} ", style), name, (f"  {detail}", "dim")))

    @hookimpl
    def podium_workflow_started(self, run: RunState) -> None:
        self._run = run
        for stage in run.workflow.stages.values():
            self._rows[stage.name] = ("·", "dim", "waiting")
        self.console.print(
            f"[bold]{run.workflow.name}[/bold] run {run.id} "
            f"({run.strategy.name}, {len(run.workflow.stages)} stages)"
        )
        if self.console.is_terminal:
            self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self._live.start()

    @hookimpl
    def podium_stage_started(self, stage: Stage, ctx: Context) -> None:
        if ctx.item_key is not None:
            self._item_moved(stage.name, ctx.item_key, None)
            return
        self._started[stage.name] = time.perf_counter()
        self._update(stage.name, "▶", "blue", "running", line=True)

    def _item_moved(self, name: str, key: Any, decided: StageResult | None) -> None:
        """Item ``key`` of mapped stage ``name`` started (``decided`` is ``None``) or was
        decided: show the counts; in line mode, only items that did not succeed get a line."""
        running, counts = self._items.setdefault(name, (set(), {}))
        if decided is None:
            running.add(key)
        else:
            running.discard(key)
            counts[decided.status] = counts.get(decided.status, 0) + 1
        total = self._run.item_count(name) if self._run is not None else None
        done = sum(counts.values())
        detail = f"{done}/{total if total is not None else '?'} items, {len(running)} running"
        detail += "".join(f", {n} {status.value}" for status, n in counts.items() if not status.ok)
        failed = decided is not None and not decided.ok
        if failed and self._live is None:
            assert decided is not None
            mark, style = _STYLE[decided.status]
            label = f"{name}{item_label(decided.item_key)}"
            self.console.print(Text.assemble((f"{mark} ", style), label, (f"  {_note(decided)}", "dim")))
        self._update(name, "▶", "blue", detail, line=False)

    @hookimpl
    def podium_stage_retried(self, stage: Stage, attempt: int, error: BaseException, delay: float) -> None:
        self._update(stage.name, "↻", "yellow", f"attempt {attempt} failed ({error}); retry in {delay:.1f}s")

    @hookimpl
    def podium_stage_ended(self, stage: Stage, result: StageResult) -> None:
        if result.item_key is not None:
            self._item_moved(stage.name, result.item_key, result)
            return
        mark, style = _STYLE[result.status]
        if result.status is StageStatus.SKIPPED:
            detail = f"skipped: {result.reason}"
        elif result.status is StageStatus.FAILED:
            detail = f"failed: {result.error!r}"
        else:
            detail = f"{result.status.value} in {result.duration_s:.2f}s"
            if result.route:
                detail += f" → {', '.join(result.route)}"
        if result.items is not None:
            detail += f" ({_item_counts(result.items)})"
        self._update(stage.name, mark, style, detail)

    @hookimpl
    def podium_workflow_ended(self, run: RunState, result: RunResult) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _note(stage: StageResult) -> str:
    """What a reader wants to know beyond the status: why, where to, what was saved."""
    parts = []
    if stage.items is not None:
        parts.append(_item_counts(stage.items))
    if stage.reason:
        parts.append(stage.reason)
    if stage.route:
        parts.append(f"→ {', '.join(stage.route)}")
    if stage.fallback:
        replaced = f": {_error_text(stage.error)}" if stage.error is not None else ""
        parts.append(f"fallback after {stage.attempts} attempt(s){replaced}")
    elif stage.error is not None and stage.items is None:  # a gather's error repeats its item rows
        parts.append(_error_text(stage.error))
    if stage.saved.total_tokens or stage.saved.cost_usd:
        parts.append(f"saved {stage.saved.total_tokens:,} tok, ${stage.saved.cost_usd:.4f}")
    return "; ".join(parts)


def _item_counts(items: tuple[StageResult, ...]) -> str:
    """``3 items: 2 succeeded, 1 failed``."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.status.value] = counts.get(item.status.value, 0) + 1
    described = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"{len(items)} item{'' if len(items) == 1 else 's'}" + (f": {described}" if described else "")


def _rows(result: RunResult) -> list[tuple[str, StageResult]]:
    """One row per visit: a stage visited once is one row named after it; a stage a loop
    brought back gets a row per visit (``review #2``), so the rows add up to the totals. A
    mapped stage gets a row for its gathered result, then one per item (``review[3]``)."""
    by_stage: dict[str, list[StageResult]] = {name: [] for name in result.stages}
    for visit in result.history:
        by_stage.setdefault(visit.name, []).append(visit)
    rows = []
    for name, visits in by_stage.items():
        gathered = result.stages.get(name)
        if gathered is not None and gathered.items is not None:
            rows.append((name, gathered))
            rows.extend((f"  {name}{item_label(item.item_key)}", item) for item in gathered.items)
        elif len(visits) == 1:
            rows.append((name, visits[0]))
        else:
            rows.extend((f"{name} #{visit.visit}", visit) for visit in visits)
    return rows


def summary_table(result: RunResult) -> Table:
    """The final table: one row per stage visit, then the run's totals."""
    table = Table(title=f"{result.workflow} · run {result.run_id} · {result.status.value}")
    for column in ("stage", "status", "duration", "attempts", "tokens", "cost"):
        table.add_column(
            column, justify="right" if column in ("duration", "attempts", "tokens", "cost") else "left"
        )
    table.add_column("note", overflow="fold")
    for label, stage in _rows(result):
        mark, style = _STYLE[stage.status]
        # A gathered row sums its item rows: its tokens and cost are theirs, shown once.
        usage = stage.usage if stage.items is None else Usage()
        table.add_row(
            label,
            Text(f"{mark} {stage.status.value}", style=style),
            f"{stage.duration_s:.2f}s",
            str(stage.attempts) if stage.attempts else "",
            f"{usage.total_tokens:,}" if usage.total_tokens else "",
            f"${usage.cost_usd:.4f}" if usage.cost_usd else "",
            _note(stage),
        )
    table.add_section()
    saved = result.saved
    table.add_row(
        "total",
        result.status.value,
        f"{result.duration_s:.2f}s",
        "",
        f"{result.usage.total_tokens:,}",
        f"${result.cost_usd:.4f}",
        "; ".join(
            part
            for part in (
                result.reason,
                f"saved {saved.total_tokens:,} tok, ${saved.cost_usd:.4f}" if saved.total_tokens else "",
            )
            if part
        ),
        style="bold",
    )
    return table


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def usage_dict(usage: Usage) -> dict[str, Any]:
    return {**attrs.asdict(usage), "total_tokens": usage.total_tokens}


def visit_dict(s: StageResult) -> dict[str, Any]:
    """A JSON-serializable description of one stage visit (an entry of ``history``)."""
    return {
        "name": s.name,
        "visit": s.visit,
        "status": s.status.value,
        "value": _jsonable(s.value),
        "error": _error_text(s.error) if s.error else None,
        "error_type": type(s.error).__name__ if s.error else None,
        "reason": s.reason,
        "attempts": s.attempts,
        "started_at": s.started_at.isoformat() if s.started_at else None,
        "finished_at": s.finished_at.isoformat() if s.finished_at else None,
        "duration_s": round(s.duration_s, 6),
        "usage": usage_dict(s.usage),
        "saved": usage_dict(s.saved),
        "route": list(s.route) if s.route is not None else None,
        "fallback": s.fallback,
        "item_key": _jsonable(s.item_key),
    }


def result_dict(result: RunResult) -> dict[str, Any]:
    """A JSON-serializable description of a run (``podium run --json``).

    ``stages`` has one entry per stage: its latest visit, with ``visits`` counting them and
    ``usage``/``saved`` summed over all of them (so the stages add up to the run); a mapped
    stage's entry is its gathered result, with ``items`` (how many) and ``failed_items``
    (the keys of those that did not succeed), its visits being its items. ``history`` has
    every visit in the order they settled, an item's with its ``item_key``.
    """
    stages = []
    for name, latest in result.stages.items():
        visits = [v for v in result.history if v.name == name]
        if latest.items is None:
            visits = visits or [latest]
        entry = visit_dict(latest)
        entry["visits"] = len(visits)
        entry["usage"] = usage_dict(sum((v.usage for v in visits), Usage()))
        entry["saved"] = usage_dict(sum((v.saved for v in visits), Usage()))
        if latest.items is None:  # a loop's visits follow one another; a map's items overlap
            entry["duration_s"] = round(sum(v.duration_s for v in visits), 6)
        else:
            entry["items"] = len(latest.items)
            entry["failed_items"] = [_jsonable(item.item_key) for item in latest.items if not item.ok]
        stages.append(entry)
    return {
        "run_id": result.run_id,
        "workflow": result.workflow,
        "status": result.status.value,
        "ok": result.ok,
        "reason": result.reason,
        "duration_s": round(result.duration_s, 6),
        "usage": usage_dict(result.usage),
        "saved": usage_dict(result.saved),
        "cost_usd": result.cost_usd,
        "stages": stages,
        "history": [visit_dict(v) for v in result.history],
    }
