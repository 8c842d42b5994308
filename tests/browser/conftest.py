"""Browser tests: Debian's chromium driven by Playwright (never a browser Playwright
downloads), one browser for all of them, against the real application serving its pages
on a free port in a thread of its own.

Without /usr/bin/chromium the tests are skipped with the reason (`make test` installs it
when it can, as root with apt-get); under CI (CI=true) a missing browser fails instead.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.config import Settings
from bot.web.auth import sign_init_data
from bot.web.server import WebServer, bind, local_url
from tests.conftest import postgres_unreachable, scratch_database
from tests.harness import Harness, running_harness

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}
T = TypeVar("T")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser for the browser tests (they live in one module and one xdist group).
    Module-scoped: Playwright's sync API keeps an event loop running in this thread, which
    the asyncio tests that a worker runs afterwards must not meet."""
    if not CHROMIUM.exists():
        reason = (
            f"Debian's chromium is not installed at {CHROMIUM}: run `apt-get install chromium`"
            " (make test does it when it runs as root) to run the browser tests"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    postgres_unreachable()  # asks with asyncio.run: before Playwright's loop runs here
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


class LiveSite:
    """The application and its web server running in a thread with their own event loop;
    `run` executes a coroutine there (chat actions, arranging data) and returns its result."""

    def __init__(self, engine: str, folder: Path) -> None:
        self.engine = engine
        self.folder = folder
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._harness: Harness | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported to the test thread
            self._failure = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # The database is made in this thread's loop too: the test's thread runs Playwright.
        async with scratch_database(self.engine, self.folder / "site.sqlite3", True) as url:
            await self._serve_on(url)

    async def _serve_on(self, url: str) -> None:
        assert self._stop is not None
        settings = Settings(
            _env_file=None,
            telegram_bot_token="123456:LOCAL-TEST-TOKEN",
            database_url=url,
            admin_ids="9000",
            send_rate=10_000,
            results_cache_seconds=0,
        )
        async with running_harness(settings) as harness:
            sock = bind("127.0.0.1", 0)
            harness.app.web_url = local_url(sock)
            async with WebServer(harness.app, sock).running():
                self.url = harness.app.web_url
                self._harness = harness
                self._ready.set()
                await self._stop.wait()

    def __enter__(self) -> LiveSite:
        self._thread.start()
        self._ready.wait(60)
        if self._failure is not None:
            raise self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    @property
    def h(self) -> Harness:
        assert self._harness is not None
        return self._harness

    def run(self, make: Callable[[Harness], Awaitable[T]]) -> T:
        assert self._loop is not None

        async def call() -> T:
            return await make(self.h)

        future: Future[T] = asyncio.run_coroutine_threadsafe(call(), self._loop)
        return future.result(timeout=120)

    def init_data(self, user_id: int, language: str = "ko", at: Any = None) -> str:
        moment = at or self.h.app.services.clock()
        return sign_init_data(self.h.app.bot.token, user_id, language, moment)


@pytest.fixture
def site(engine: str, tmp_path: Path) -> Iterator[LiveSite]:
    with LiveSite(engine, tmp_path) as live:
        yield live


@pytest.fixture
def page(browser: Any, engine: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A phone-sized page; console errors (a CSP violation, a script error) fail the test."""
    context = browser.new_context(viewport=PHONE, locale="ko-KR")
    opened = context.new_page()
    errors: list[str] = []
    opened.on(
        "console",
        lambda m: (
            errors.append(f"{m.text} {m.location.get('url', '')}")
            if m.type == "error" and not expected_404(m.location.get("url", ""))
            else None
        ),
    )
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.expected_errors = []  # what a test provokes on purpose, e.g. "status of 401"
    yield opened
    context.close()
    unexpected = [e for e in errors if not any(x in e for x in opened.expected_errors)]
    assert not unexpected, unexpected


def expected_404(url: str) -> bool:
    """The tests visit one unknown address on purpose."""
    return url.endswith("/99999999999999999999999")


def screenshot(page: Any, name: str, engine: str) -> Path:
    """A 360 px-wide full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{engine}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fits_the_phone(page: Any) -> None:
    """Nothing wider than the 360 px screen, a language on the page, and a main heading."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"
    assert page.evaluate("document.documentElement.lang") in ("ko", "en")
    assert page.locator("h1").count() >= 1
