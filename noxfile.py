"""Development sessions. Offline-safe: no session downloads a Python or skips silently.

nox -s tests          every test suite, with core and every plugin installed together
nox -s core           core's tests (with podium-sequential, its test dependency)
nox -s "plugin(name='podium-parallel')"   one plugin alone with core, its own tests
nox -s lint           ruff and mypy
nox -s docs           mkdocs build --strict
nox -s bench          benchmarks (JSON in bench/results/)
nox -s demo           the example workflow
nox -s wheels         every distribution built as a wheel, installed alone (podium[all]), run
"""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from pathlib import Path

import nox

nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
PLUGINS = sorted(
    p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file() and p.name != "_template"
)
# mypy: a test checks that user code type-checks against the stage options. selenium drives
# Debian's chromium (no browser download) for the report and dashboard tests; httpx asks
# the dashboard for pages.
DEV = [
    "pytest>=8.3",
    "pytest-asyncio>=0.24",
    "pytest-cov>=5",
    "hypothesis>=6.100",
    "mypy>=1.11",
    "selenium>=4.20",
    "httpx>=0.27",
]


def _test_requirements(plugin: str) -> list[str]:
    """A plugin's ``test`` extra (sibling plugins and libraries its tests need), and the
    sibling plugins it depends on at run time (installed from this checkout, not an index)."""
    project = tomllib.loads((ROOT / "plugins" / plugin / "pyproject.toml").read_text())["project"]
    siblings = [r for r in project.get("dependencies", []) if _name(r) in PLUGINS]
    return [*siblings, *project.get("optional-dependencies", {}).get("test", [])]


def _name(requirement: str) -> str:
    return requirement.split("[")[0].split(">")[0].split("=")[0].strip()


def _editable(requirements: list[str]) -> list[str]:
    """Turn sibling distributions (podium-*) into editable installs of their directories."""
    args: list[str] = []
    for requirement in requirements:
        name = _name(requirement)
        if name in PLUGINS:
            args += ["-e", f"plugins/{name}"]
        else:
            args.append(requirement)
    return args


def _everything() -> list[str]:
    """Install arguments for core and every plugin with their test requirements, each once."""
    requirements = ["core[redis,memcached,ui]"]
    for plugin in PLUGINS:
        requirements += [f"plugins/{plugin}", *_test_requirements(plugin)]
    args: list[str] = []
    for requirement in dict.fromkeys(requirements):
        name = _name(requirement)
        if name in PLUGINS:
            requirement = f"plugins/{name}"
        if requirement.startswith(("core", "plugins/")):
            if requirement not in args:
                args += ["-e", requirement]
        elif requirement not in args:
            args.append(requirement)
    return args


def _pytest(session: nox.Session, *paths: str) -> None:
    # pytest exits 5 when it collected no test: nox fails the session on it, as it should.
    session.run("pytest", *paths, *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Every test suite with core and all plugins installed in one environment."""
    # The tutorial's plugin is installed the way users install plugins: a real pip install.
    session.install(*DEV, *_everything())
    session.install("./docs/examples/podium-hello")
    _pytest(session, "core/tests", *[f"plugins/{p}/tests" for p in PLUGINS], "tests")


@nox.session
def core(session: nox.Session) -> None:
    """Core's own tests, with the strategies they run on: podium-sequential, and podium-parallel
    and podium-conditional for the run reports (critical paths, routes and loops)."""
    strategies = ["podium-sequential", "podium-parallel", "podium-conditional"]
    session.install(*DEV, "-e", "core[redis,memcached,ui]", *_editable(strategies))
    _pytest(session, "core/tests")


@nox.session
@nox.parametrize("name", PLUGINS)
def plugin(session: nox.Session, name: str) -> None:
    """One plugin with core and only its declared test dependencies."""
    session.install(*DEV, "-e", "core", "-e", f"plugins/{name}", *_editable(_test_requirements(name)))
    _pytest(session, f"plugins/{name}/tests")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy over core and every plugin."""
    session.install("ruff>=0.6", "mypy>=1.11", *DEV, *_everything())
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site; warnings are errors."""
    session.install("mkdocs-material>=9.5", "mkdocstrings[python]>=0.26", "-e", "core")
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"), env={"NO_MKDOCS_2_WARNING": "1"}
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark; each prints JSON and writes it under bench/results/."""
    session.install(*_everything())
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        session.run("python", str(script), *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The example workflow, as the README's quick start runs it."""
    session.install("-r", "requirements.txt")
    session.run("podium", "run", "examples/feature_pipeline.py")


@nox.session
def wheels(session: nox.Session) -> None:
    """Build every distribution as a wheel and install only those in a fresh environment, as
    a user would (``pip install 'podium[all]'``); then run the example and list the plugins.

    No editable install and no source tree on the path: the fresh environment gets the
    wheels through ``--find-links`` and only third-party dependencies from the index.
    """
    session.install("build>=1.2")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    projects = ["core", *(f"plugins/{name}" for name in PLUGINS)]
    for project in projects:
        session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), project, silent=True)
    built = sorted(path.name for path in dist.glob("*.whl"))
    if len(built) != len(projects):
        session.error(f"expected {len(projects)} wheels, built {built}")

    venv = tmp / "wheel-venv"
    shutil.rmtree(venv, ignore_errors=True)
    session.run(sys.executable, "-m", "venv", str(venv), external=True)
    bin_dir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    report = tmp / "install-report.json"
    session.run(
        str(bin_dir / "python"), "-m", "pip", "install", "-q", "--find-links", str(dist),
        "--report", str(report), "podium[all]", external=True,
    )  # fmt: skip
    # Every Podium distribution must come from the wheels just built, none from elsewhere.
    names = {_project_name(project) for project in projects}
    installed = {
        item["metadata"]["name"]: item["download_info"]["url"]
        for item in json.loads(report.read_text())["install"]
        if item["metadata"]["name"] in names
    }
    strays = {name: url for name, url in installed.items() if not url.startswith(dist.as_uri())}
    if set(installed) != names or strays:
        session.error(f"podium[all] installed {installed}; expected {sorted(names)} from {dist}")

    # Run from outside the repository, so that nothing can import from the source tree.
    work = tmp / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    session.chdir(work)
    listing = session.run(str(bin_dir / "podium"), "plugins", "--json", external=True, silent=True)
    plugins = json.loads(str(listing))["plugins"]
    failed = [p["name"] for p in plugins if p["status"] != "loaded"]
    missing = names - {"podium"} - {p["distribution"] for p in plugins}
    if failed or missing:
        session.error(f"podium plugins: failed {failed}, not discovered {sorted(missing)}")
    session.run(str(bin_dir / "podium"), "plugins", external=True)
    session.run(str(bin_dir / "podium"), "run", str(ROOT / "examples" / "feature_pipeline.py"), external=True)


def _project_name(project: str) -> str:
    name: str = tomllib.loads((ROOT / project / "pyproject.toml").read_text())["project"]["name"]
    return name
