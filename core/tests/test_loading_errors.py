"""Loading a workflow never ends in a traceback: a file that fails to import is reported with
its file and line, the error's type and message; a TOML file's errors come all at once, each
at its own key."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.definition.loader import load_target, load_toml
from podium.foundation.errors import DefinitionError


def failure(target: str | Path) -> str:
    with pytest.raises(DefinitionError) as info:
        load_target(str(target))
    return str(info.value)


#: ``loading_stages``, the stage functions the TOML workflows below name.
STAGES = "async def fetch() -> str:\n    return 'page'\n\n\nasync def summarize(fetch: str) -> str:\n    return fetch\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # file names are shown relative to the working directory
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "loading_stages.py").write_text(STAGES)
    return tmp_path


def test_a_file_raising_on_import_names_its_line_the_type_and_message(here: Path) -> None:
    (here / "wf.py").write_text("import podium\n\nraise RuntimeError('no config here')\n")
    assert (
        failure("wf.py") == "wf.py:3: RuntimeError: no config here (while importing the workflow file wf.py)"
    )


def test_a_syntax_error_names_its_line(here: Path) -> None:
    (here / "wf.py").write_text("import podium\nwf = podium.Workflow('w')\ndef stage(:\n")
    message = failure("wf.py")
    assert message.startswith("wf.py:3: SyntaxError: ")
    assert message.endswith("(while importing the workflow file wf.py)")


def test_a_missing_import_names_the_module_and_the_line(here: Path) -> None:
    (here / "wf.py").write_text("import podium\nimport helpers_that_do_not_exist\n")
    assert failure("wf.py") == (
        "wf.py:2: ModuleNotFoundError: No module named 'helpers_that_do_not_exist' "
        "(while importing the workflow file wf.py)"
    )


def test_an_error_in_a_module_the_file_imports_names_both_lines(here: Path) -> None:
    (here / "helpers.py").write_text("import json\n\n\ndef settings():\n    return json.loads('{oops')\n")
    (here / "wf.py").write_text("import podium\nimport helpers\n\nSETTINGS = helpers.settings()\n")
    message = failure("wf.py")
    assert message.startswith("helpers.py:5: JSONDecodeError: ")
    assert message.endswith("(while importing the workflow file wf.py, at line 4)")


def test_a_definition_error_while_importing_names_the_line_of_the_stage(here: Path) -> None:
    (here / "wf.py").write_text(
        "import podium\nwf = podium.Workflow('w')\n\n@wf.stage(timeout=-1)\nasync def a(): ...\n"
    )
    assert failure("wf.py") == (
        "wf.py:4: stage 'a': timeout must be > 0, got -1 (while importing the workflow file wf.py)"
    )


def test_a_module_target_that_raises_on_import_names_its_file_and_line(here: Path) -> None:
    (here / "flows_that_raise.py").write_text("import podium\nwf = podium.Workflow('w')\n1 / 0\n")
    assert failure("flows_that_raise:wf") == (
        "flows_that_raise.py:3: ZeroDivisionError: division by zero (while importing module 'flows_that_raise')"
    )


def test_name_after_the_colon_is_the_variable_and_the_error_says_so(here: Path) -> None:
    (here / "wf.py").write_text("import podium\nwf = podium.Workflow('feature')\n")
    message = failure("wf.py:feature")
    assert message.startswith("wf.py has no attribute 'feature': in wf.py:NAME, NAME is the variable")
    assert "not the workflow's name; did you mean wf.py:wf?" in message
    assert "(workflows in wf.py: wf (workflow 'feature'))" in message


def test_a_name_that_is_not_a_workflow_is_named_with_its_type(here: Path) -> None:
    (here / "wf.py").write_text("import podium\nwf = podium.Workflow('feature')\ndef helper(): ...\n")
    assert failure("wf.py:helper").startswith("wf.py:helper is a function, not a podium.Workflow")


def toml_failure(path: Path, text: str) -> list[str]:
    path.write_text(text)
    with pytest.raises(DefinitionError) as info:
        load_toml(path)
    return str(info.value).splitlines()[1:]


def test_a_toml_stage_whose_module_raises_on_import_names_file_line_and_key(here: Path) -> None:
    (here / "raising_stages.py").write_text("import os\n\nTOKEN = os.environ['NO_SUCH_VARIABLE_X']\n")
    lines = toml_failure(
        here / "wf.toml", '[workflow]\nname = "t"\n[[stages]]\nrun = "raising_stages:fetch"\n'
    )
    assert lines == [
        "  - raising_stages.py:3: KeyError: 'NO_SUCH_VARIABLE_X' (while importing module 'raising_stages') "
        "@ stages[0].run"
    ]


def test_a_toml_plugin_module_that_raises_is_reported_at_its_key(here: Path) -> None:
    (here / "raising_hooks.py").write_text("raise ImportError('needs the vendor SDK')\n")
    lines = toml_failure(
        here / "wf.toml",
        '[workflow]\nname = "t"\nplugins = ["raising_hooks"]\n[[stages]]\nrun = "os:getcwd"\n',
    )
    assert lines == [
        "  - raising_hooks.py:1: ImportError: needs the vendor SDK (while importing module 'raising_hooks') "
        "@ workflow.plugins[0]"
    ]


def test_every_error_of_a_toml_workflow_is_reported_at_once_at_its_key(here: Path) -> None:
    lines = toml_failure(
        here / "wf.toml",
        '[workflow]\nname = "t"\nstrategy = "conditional"\nmax_concurrency = 0\n'
        '[[stages]]\nname = "fetch"\nrun = "loading_stages:fetch"\nretry = { attempts = 0, backoff = 0 }\n'
        'route = { page = "sumarize" }\n'
        '[[stages]]\nname = "fetch"\nrun = "loading_stages:fetch"\n'
        '[[stages]]\nname = "summarize"\nrun = "loading_stages:summarize"\nneeds = ["fetch", "fecth"]\n'
        '[[stages]]\nname = "slow"\nrun = "loading_stages:fetch"\ntimeout = 0\n'
        '[[stages]]\nname = "broken"\nrun = "loading_stages:missing"\n'
        '[[stages]]\nname = "report"\nrun = "loading_stages:fetch"\nneeds = ["broken"]\n',
    )
    assert lines == [
        "  - workflow 't': max_concurrency must be >= 1, got 0 @ workflow.max_concurrency",
        "  - attempts must be > 0, got 0 @ stages[0].retry.attempts",
        "  - backoff must be > 0, got 0.0 @ stages[0].retry.backoff",
        "  - duplicate stage name 'fetch' (first at stages[0]) @ stages[1].name",
        "  - stage 'slow': timeout must be > 0, got 0.0 @ stages[3].timeout",
        "  - module 'loading_stages' has no attribute 'missing' @ stages[4].run",
        "  - stage 'fetch' routes to unknown stage 'sumarize' (did you mean 'summarize'?) @ stages[0].route",
        "  - stage 'summarize' needs unknown stage 'fecth' (did you mean 'fetch'?) @ stages[2].needs[1]",
    ]


AT_THEIR_KEYS = {
    "unknown and repeated dependencies at their position": (
        '[[stages]]\nrun = "loading_stages:fetch"\n'
        '[[stages]]\nrun = "loading_stages:summarize"\nneeds = ["fetch"]\nneeds_any = ["fetch", "fecth"]\n',
        [
            "stage 'summarize' lists dependency 'fetch' twice @ stages[1].needs_any[0]",
            "stage 'summarize' needs unknown stage 'fecth' (did you mean 'fetch'?) @ stages[1].needs_any[1]",
        ],
    ),
    "a string where a list belongs is a type error": (
        '[[stages]]\nrun = "loading_stages:fetch"\n[[stages]]\nrun = "loading_stages:summarize"\nneeds = "fetch"\n',
        ["expected a list, got the string 'fetch' (write ['fetch'] for one item) @ stages[1].needs"],
    ),
    "type errors are listed together": (
        '[[stages]]\nrun = "os:getcwd"\ntimeout = "soon"\nretry = { delay = -1 }\nmax_visits = 1.5\n',
        [
            "expected seconds or a duration like '30s' or '5m', got 'soon' @ stages[0].timeout",
            "expected a duration of 0 seconds or more, got -1 @ stages[0].retry.delay",
            "expected an integer, got 1.5 @ stages[0].max_visits",
        ],
    ),
    "a number field takes no duration": (
        '[[stages]]\nrun = "os:getcwd"\n[workflow.budget]\ncost_usd = "5m"\nduration_s = "5m"\n',
        ["expected a number, got '5m' @ workflow.budget.cost_usd"],
    ),
}


@pytest.mark.parametrize(("stages", "expected"), AT_THEIR_KEYS.values(), ids=AT_THEIR_KEYS.keys())
def test_a_toml_workflow_error_is_reported_at_its_key(here: Path, stages: str, expected: list[str]) -> None:
    lines = toml_failure(here / "wf.toml", f'[workflow]\nname = "t"\n{stages}')
    assert lines == [f"  - {line}" for line in expected]


def test_a_toml_file_that_is_not_utf8_is_a_definition_error(here: Path) -> None:
    path = here / "wf.toml"
    path.write_bytes(b'[workflow]\nname = "caf\xe9"\n')
    with pytest.raises(DefinitionError, match=r"wf.toml: not UTF-8 text"):
        load_toml(path)
