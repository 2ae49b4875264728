"""No user mistake ends in a Python traceback: ``podium run``, ``validate`` and ``config`` fed
a table of bad inputs each exit 2 with a short message naming what is wrong and where."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from podium.cli.main import main

GOOD = "import podium\nwf = podium.Workflow('feature')\n\n@wf.stage\nasync def spec(ticket: str) -> str:\n    return ticket\n"

FILES = {
    "good.py": GOOD,
    "raises.py": "import podium\nwf = podium.Workflow('w')\nraise RuntimeError('boom at import')\n",
    "syntax.py": "import podium\nwf = podium.Workflow('w')\ndef stage(:\n    pass\n",
    "missing.py": "import podium\nimport helpers_that_are_not_there\n",
    "generator.py": "import podium\nwf = podium.Workflow('w')\n\n@wf.stage\nasync def items():\n    yield 1\n",
    "agent.py": (
        "import podium\nwf = podium.Workflow('w')\n\n@podium.hookimpl\ndef podium_register_agents(register):\n"
        "    register('planner', podium.SimulatedAgent())\n\n@wf.stage\nasync def spec(ctx: podium.Context) -> str:\n"
        "    return (await ctx.agent('planer').complete('x')).text\n"
    ),
    "bad_input_stages.py": "raise ValueError('stage module is broken')\n",
    "stage_raises.toml": '[workflow]\nname = "t"\n[[stages]]\nrun = "bad_input_stages:fetch"\n',
    "many.toml": (
        '[workflow]\nname = "t"\nstrategy = "conditional"\n'
        '[[stages]]\nname = "a"\nrun = "os:getcwd"\nretry = { attempts = 0 }\nroute = { x = "shp" }\n'
        '[[stages]]\nname = "a"\nrun = "os:getcwd"\n'
        '[[stages]]\nname = "ship"\nrun = "os:getcwd"\nneeds = ["aa"]\n'
    ),
    "latin1.toml": b'[workflow]\nname = "caf\xe9"\n',
}


@attrs.frozen
class Bad:
    """One bad input: the arguments after ``podium``, the environment, a podium.toml, what stderr says."""

    args: tuple[str, ...]
    says: tuple[str, ...]
    env: dict[str, str] = attrs.field(factory=dict)
    toml: str | None = None


RUN = ("run", "good.py", "-i", "ticket=x")
TABLE = {
    "import raises": Bad(("validate", "raises.py"), ("raises.py:3: RuntimeError: boom at import",)),
    "import raises (run)": Bad(("run", "raises.py"), ("raises.py:3: RuntimeError: boom at import",)),
    "syntax error": Bad(("validate", "syntax.py"), ("syntax.py:3: SyntaxError: ",)),
    "syntax error (run)": Bad(("run", "syntax.py"), ("syntax.py:3: SyntaxError: ",)),
    "missing import": Bad(
        ("validate", "missing.py"),
        ("missing.py:2: ModuleNotFoundError: No module named 'helpers_that_are_not_there'",),
    ),
    "toml stage module raises": Bad(
        ("validate", "stage_raises.toml"),
        ("bad_input_stages.py:1: ValueError: stage module is broken", "@ stages[0].run"),
    ),
    "toml stage module raises (run)": Bad(("run", "stage_raises.toml"), ("@ stages[0].run",)),
    "toml errors all at once": Bad(
        ("validate", "many.toml"),
        (
            "many.toml has 4 error(s)",
            "attempts must be > 0, got 0 @ stages[0].retry.attempts",
            "duplicate stage name 'a' (first at stages[0]) @ stages[1].name",
            "stage 'ship' needs unknown stage 'aa' (did you mean 'a'?) @ stages[2].needs[0]",
            "stage 'a' routes to unknown stage 'shp' (did you mean 'ship'?) @ stages[0].route",
        ),
    ),
    "toml not utf-8": Bad(("validate", "latin1.toml"), ("latin1.toml: not UTF-8 text",)),
    "workflow name instead of variable": Bad(
        ("validate", "good.py:feature"),
        ("good.py has no attribute 'feature'", "NAME is the variable", "did you mean good.py:wf?"),
    ),
    "no such file": Bad(("run", "nowhere.py"), ("nowhere.py: no such file",)),
    "generator stage": Bad(("validate", "generator.py"), ("stage 'items' is an async generator function",)),
    "unknown agent": Bad(
        ("run", "agent.py"),
        ("stage 'spec' calls agent 'planer', which is not registered (did you mean 'planner'?)",),
    ),
    "missing input": Bad(("run", "good.py"), ("stage 'spec' parameter 'ticket' matches no workflow input",)),
    "bad --input": Bad(("run", "good.py", "-i", "ticket"), ("expected NAME=VALUE, got 'ticket'",)),
    "misspelt strategy": Bad((*RUN, "--strategy", "sequentail"), ("Did you mean 'sequential'?",)),
    "--log-level LOUD": Bad(
        ("--log-level", "LOUD", *RUN),
        ("got 'LOUD' @ config.log_level (set on the command line)", "DEBUG, INFO"),
    ),
    "--log-level LOUD (cache stats)": Bad(
        ("--log-level", "LOUD", "cache", "stats"), ("got 'LOUD' @ config.log_level",)
    ),
    "import raises (graph)": Bad(("graph", "raises.py"), ("raises.py:3: RuntimeError: boom at import",)),
    "log_level in the file": Bad(("config",), ("got 'LOUD' @ config.log_level",), toml='log_level = "LOUD"'),
    "log_level a number": Bad(("config",), ("got '3' @ config.log_level",), toml="log_level = 3"),
    "PODIUM_LOG_LEVEL": Bad(
        RUN, ("@ config.log_level (set by PODIUM_LOG_LEVEL)",), env={"PODIUM_LOG_LEVEL": "LOUD"}
    ),
    "cache port not a number": Bad(
        RUN,
        ("cache_url 'redis://:***@127.0.0.1:notaport/0': the port must be a number from 0 to 65535",),
        env={"PODIUM_CACHE_URL": "redis://:hunter2@127.0.0.1:notaport/0"},
    ),
    "cache port out of range (config)": Bad(
        ("config",),
        ("got '70000' @ config.cache_url",),
        toml='cache_url = "redis://:hunter2@127.0.0.1:70000/0"',
    ),
    "cache port (--cache-url)": Bad(
        (*RUN, "--cache-url", "memcached://:hunter2@h:99999"),
        ("got '99999' @ config.cache_url (set on the command line)",),
    ),
    "unknown cache scheme": Bad(
        (*RUN, "--cache-url", "foo://x"), ("no installed plugin provides the cache backend",)
    ),
    "a string for a list": Bad(
        ("config",),
        ("expected a list, got the string 'otel' (write ['otel'] for one item) @ config.disable",),
        toml='disable = "otel"',
    ),
    "required_plugins a string": Bad(
        RUN, ("got the string 'context7'", "@ config.required_plugins"), toml='required_plugins = "context7"'
    ),
    "a price as a duration": Bad(
        ("config",),
        ("expected a number, got '5m' @ config.pricing['m'].input",),
        toml='[pricing."m"]\ninput = "5m"',
    ),
    "a price as a word": Bad(
        ("config",),
        ("expected a number, got 'cheap' @ config.pricing['m'].input",),
        toml='[pricing."m"]\ninput = "cheap"',
    ),
    "negative cache_timeout": Bad(("config",), ("@ config.cache_timeout",), toml="cache_timeout = -1"),
    "zero cache_timeout": Bad(RUN, ("cache_timeout must be more than 0 seconds",), toml="cache_timeout = 0"),
    "bad plugin duration": Bad(
        ("config",),
        ("got 'soon' @ config.plugins.context7.timeout",),
        toml='[plugins.context7]\ntimeout = "soon"',
    ),
    "bad plugin variable": Bad(
        ("config",),
        ("@ config.plugins.context7 (set by CONTEXT7_API_URL)",),
        env={"CONTEXT7_API_URL": "notaurl"},
    ),
    "config file missing": Bad(
        ("--config", "absent.toml", "config"), ("absent.toml: configuration file not found",)
    ),
    "config file not toml": Bad(("config",), ("podium.toml: not valid TOML",), toml="strategy = "),
    "required plugin absent": Bad(
        RUN, ("required plugin(s) not installed",), toml='required_plugins = ["nope"]'
    ),
    "autoload variable": Bad(
        ("config",), ("expected true or false, got 'maybe'",), env={"PODIUM_DISABLE_PLUGIN_AUTOLOAD": "maybe"}
    ),
    "unknown module target": Bad(
        ("validate", "no_such_module_qq:wf"), ("cannot import module 'no_such_module_qq'",)
    ),
    "store a number": Bad(("runs",), ("expected a run store URL", "@ config.store"), toml="store = 3"),
    "unknown store scheme": Bad(
        (*RUN, "--store", "nosql://x"), ("no installed plugin provides the run store",)
    ),
    "store commands without a store": Bad(
        ("stats",), ("the configuration says store = false",), toml="store = false"
    ),
    "resume an unknown run": Bad(("resume", "ffff"), ("no run 'ffff'",)),
    "bad --since": Bad(("stats", "--since", "soon"), ("--since", "expected seconds or a duration")),
    "bad --older-than": Bad(("store", "prune", "--older-than", "a while"), ("--older-than",)),
    "check a missing target": Bad(("check", "nowhere.py"), ("nowhere.py: no such file",)),
    "check an import that raises": Bad(
        ("check", "raises.py"), ("raises.py:3: RuntimeError: boom at import",)
    ),
    "alert rule true": Bad(
        ("config",),
        ("or false to turn the rule off; got true @ config.alerts.workflow_duration",),
        toml="[alerts]\nworkflow_duration = true",
    ),
    "alert window a word": Bad(
        ("alerts",), ("got 'soon' @ config.alerts.window",), toml='[alerts]\nwindow = "soon"'
    ),
    "success rate as a percentage": Bad(
        ("stats",), ("success_rate is a share between 0 and 1, got 95",), toml="[alerts]\nsuccess_rate = 95"
    ),
    "unknown serializer": Bad(
        RUN, ("serializer must be one of json, pickle, got 'yaml'",), toml='[run_store]\nserializer = "yaml"'
    ),
    "negative doc price": Bad(
        ("cost",), ("doc_request_usd must be >= 0",), toml="[cost]\ndoc_request_usd = -1"
    ),
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, content in FILES.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for variable in ("PODIUM_LOG_LEVEL", "PODIUM_CACHE_URL", "CONTEXT7_API_URL", "CONTEXT7_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


@pytest.mark.parametrize("bad", TABLE.values(), ids=TABLE.keys())
def test_a_bad_input_exits_2_with_a_message_and_no_traceback(project: Path, bad: Bad) -> None:
    if bad.toml is not None:
        (project / "podium.toml").write_text(bad.toml)
    result = CliRunner().invoke(main, list(bad.args), env=bad.env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stdout + result.stderr
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    for fragment in bad.says:
        assert fragment in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert len(result.stderr.splitlines()) <= 8, "a few lines, not a dump"


@pytest.mark.parametrize(
    "key",
    [
        "import raises",
        "syntax error",
        "toml stage module raises",
        "cache port not a number",
        "PODIUM_LOG_LEVEL",
    ],
)
def test_the_real_command_exits_2_without_a_traceback(project: Path, key: str) -> None:
    bad = TABLE[key]
    done = subprocess.run(
        [sys.executable, "-m", "podium", *bad.args],
        capture_output=True,
        text=True,
        env={**os.environ, **bad.env},
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.startswith("error: ")
    assert bad.says[0] in done.stderr
