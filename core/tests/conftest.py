"""Fixtures for core's tests; the podium pytest plugin (podium.testing) supplies the rest."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import podium


@pytest.fixture
async def engine(podium_engine: Callable[..., podium.Engine]) -> AsyncIterator[podium.Engine]:
    """A started engine with the installed plugins, in-memory cache, default configuration."""
    async with podium_engine(
        agents={"echo": podium.SimulatedAgent(lambda p: p.upper(), input_tokens=100, output_tokens=50)}
    ) as started:
        yield started


@pytest.fixture
def run_workflow() -> Callable[..., Awaitable[podium.RunResult]]:
    """``await run_workflow(wf, **engine_options)``: one run on a fresh engine with the
    installed plugins, the default configuration and no cache."""

    async def run(wf: podium.Workflow, **options: Any) -> podium.RunResult:
        async with podium.Engine(config=podium.Config(), cache_url=False, **options) as engine:
            return await engine.run(wf)

    return run


# ------------------------------------------------------------------ a real browser
# Headless Chromium through Selenium, driving Debian's /usr/bin/chromedriver (nothing is
# downloaded). Without chromium the browser tests skip, with the reason shown; under CI,
# which installs it, they fail instead.

CHROMIUM = os.environ.get("PODIUM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PODIUM_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1200,1600",
)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure)")
    pytest.skip(reason)


class Browser:
    """One headless Chromium: open a page, see the requests it made, look at its DOM."""

    def __init__(self, driver: Any, screenshots: Path) -> None:
        self.driver = driver
        self.screenshots = screenshots

    def open(self, url: str) -> list[str]:
        """Load ``url`` and return every other URL the page requested while loading."""
        self.driver.get("about:blank")
        self.driver.get_log("performance")  # drop what earlier pages logged
        self.driver.get(url)
        return self.requests_since(url)

    def requests_since(self, *own: str) -> list[str]:
        """URLs requested (per the DevTools network log) since the last call, except ``own``."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        # data: URLs (a form control's icon) are not requests to anywhere.
        return [url for url in urls if url not in own and not url.startswith(("about:", "data:"))]

    def css(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements("css selector", selector))

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Poll ``condition`` until it holds (the page updating itself); fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the page did not get there in time")
            time.sleep(0.05)

    def screenshot(self, name: str) -> Path:
        path = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """A headless Chromium for the whole session (screenshots in ``PODIUM_SCREENSHOTS`` or a temp dir)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        _unavailable(f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    screenshots = Path(os.environ.get("PODIUM_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    screenshots.mkdir(parents=True, exist_ok=True)
    try:
        yield Browser(driver, screenshots)
    finally:
        driver.quit()


# ------------------------------------------------------------------ podium ui as a process


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UiProcess:
    """``podium [GLOBAL...] ui --port PORT [ARGS...]`` running as its own process."""

    def __init__(self, args: Sequence[str], global_args: Sequence[str]) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "podium", *global_args, "ui", "--port", str(port), *args],
            stderr=subprocess.PIPE,
            text=True,
        )
        self._stderr: str | None = None

    def get(self, path: str) -> Any:
        """``GET path`` once the dashboard answers (it takes a moment to start)."""
        import httpx

        deadline = time.monotonic() + 20
        while True:
            try:
                return httpx.get(self.url + path)
            except httpx.ConnectError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"podium ui did not start: {self.stop()}") from None
                time.sleep(0.1)

    def stop(self) -> str:
        """Stop it; what it wrote on stderr."""
        if self._stderr is None:
            if self.process.poll() is None:
                self.process.terminate()
            self._stderr = self.process.communicate(timeout=10)[1]
        return self._stderr


@pytest.fixture
def unused_port() -> int:
    """A port of 127.0.0.1 nothing listens on now."""
    return free_port()


@pytest.fixture
def podium_ui() -> Iterator[Callable[..., UiProcess]]:
    """``podium_ui(*args, global_args=())`` starts ``podium ui`` on a free port; stopped at the end."""
    started: list[UiProcess] = []

    def start(*args: str, global_args: Sequence[str] = ()) -> UiProcess:
        started.append(UiProcess(args, global_args))
        return started[-1]

    yield start
    for process in started:
        process.stop()
