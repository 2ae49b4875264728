"""Run report benchmark: what drawing a run costs, and what recording it costs a run.

    python bench/bench_report.py [--stages 1000] [--repeat 5]

Prints JSON and writes ``bench/results/report.json``. Two measurements, each against a
baseline measured in the same process:

1. **Rendering**: ``render_report`` of a run with ``--stages`` visits (a chain of
   fan-outs, a few failures and retries), against ``json.dumps`` of the same report's
   JSON form (the cheapest way to write the same facts down); also the page's size.
2. **Recording**: a run of that workflow with a ``ReportRecorder`` registered, against
   the same run without it (the recorder is opt-in; this is what it adds when used).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import podium
from podium.report import ReportRecorder, RunReport, render_report

RESULTS = Path(__file__).parent / "results" / "report.json"


def workflow(stages: int) -> podium.Workflow:
    """Groups of four: a head, two branches, a join; every 50th branch fails once, then succeeds."""
    wf = podium.Workflow(f"bench-report-{stages}", strategy="parallel")
    failures: set[str] = set()
    previous: str | None = None
    for n in range(stages // 4):
        head, left, right, join = (f"s{n}_head", f"s{n}_left", f"s{n}_right", f"s{n}_join")

        async def body() -> int:
            return 1

        async def flaky(name: str = left) -> int:
            if name not in failures:
                failures.add(name)
                raise RuntimeError("transient")
            return 1

        wf.add_stage(body, name=head, needs=[previous] if previous else [], version="1")
        retry = podium.Retry(attempts=2, delay=0.0, jitter=False)
        if n % 50 == 0:
            wf.add_stage(flaky, name=left, needs=[head], retry=retry, version="1")
        else:
            wf.add_stage(body, name=left, needs=[head], version="1")
        wf.add_stage(body, name=right, needs=[head], version="1")
        wf.add_stage(body, name=join, needs=[left, right], version="1")
        previous = join
    return wf


async def run(wf: podium.Workflow, plugins: list[object]) -> podium.RunResult:
    async with podium.Engine(plugins=plugins, cache_url=False) as engine:
        return await engine.run(wf)


def best_of(repeat: int, fn: Any) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.stages < 4 or args.repeat < 1:
        sys.exit("error: --stages must be >= 4 and --repeat >= 1")

    recorder = ReportRecorder()
    result = asyncio.run(run(workflow(args.stages), [recorder]))
    report = recorder.report(result.run_id)
    data = report.to_json()
    render_s = best_of(args.repeat, lambda: render_report(report))
    dumps_s = best_of(args.repeat, lambda: json.dumps(data))
    rebuild_s = best_of(args.repeat, lambda: RunReport.from_json(data))
    page = render_report(report)

    plain, recorded = [], []
    for _ in range(args.repeat):  # interleaved, so that drift hits both alike
        plain.append(asyncio.run(run(workflow(args.stages), [])).duration_s)
        recorded.append(asyncio.run(run(workflow(args.stages), [ReportRecorder()])).duration_s)

    figures = {
        "stages": args.stages,
        "visits": len(report.visits),
        "render_report_s": round(render_s, 4),
        "json_dumps_s": round(dumps_s, 4),
        "render_vs_json_dumps": round(render_s / dumps_s, 1),
        "from_json_s": round(rebuild_s, 4),
        "page_bytes": len(page.encode()),
        "run_without_recorder_s": round(statistics.median(plain), 4),
        "run_with_recorder_s": round(statistics.median(recorded), 4),
        "recorder_ratio": round(statistics.median(recorded) / statistics.median(plain), 2),
    }
    text = json.dumps(figures, indent=2)
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main()
