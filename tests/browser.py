"""Headless Chromium for the web page tests, driven through chromedriver (Debian packages
`chromium` and `chromium-driver`, installed by `.ci/chromium.sh`, which `make test` runs).

Selenium is synchronous and the bot's web server runs on the test's event loop, so every call
into the browser runs in a worker thread: the loop keeps serving the pages the browser asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

# A Chromium or Chrome and its driver, found on the PATH (Debian's packages put them in
# /usr/bin); MINTBOT_CHROMIUM and MINTBOT_CHROMEDRIVER name others.
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _found(override: str, names: tuple[str, ...]) -> Path | None:
    named = os.environ.get(override)
    if named:
        return Path(named) if Path(named).exists() else None
    for name in names:
        if path := shutil.which(name):
            return Path(path)
    return None


# Offline and quiet: no first-run UI, no background fetches, no updates, no sync, no QUIC.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--window-size=1280,1400",
)


class Browser:
    """One headless Chromium window, as a test uses it."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    async def open(self, url: str) -> None:
        """Load `url` and return once its load event fired (images included)."""
        await asyncio.to_thread(self.driver.get, url)

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    async def js(self, script: str, *args: Any) -> Any:
        return await asyncio.to_thread(self.driver.execute_script, script, *args)

    async def texts(self, css: str) -> list[str]:
        """The rendered text of every element matching `css`, in page order."""
        return list(await self.js(_TEXTS, css))

    async def attributes(self, css: str, name: str) -> list[str]:
        """Attribute `name` of every element matching `css`, as the DOM resolves it (links are
        absolute)."""
        return list(await self.js(_ATTRIBUTES, css, name))

    async def click(self, css: str) -> None:
        """Click the first element matching `css` and wait for the page it leads to."""

        def click() -> None:
            self.driver.find_element(By.CSS_SELECTOR, css).click()

        await asyncio.to_thread(click)

    async def alert_open(self) -> bool:
        def probe() -> bool:
            try:
                self.driver.switch_to.alert.text  # noqa: B018 (the probe is the lookup)
            except NoAlertPresentException:
                return False
            return True

        return await asyncio.to_thread(probe)

    async def screenshot(self, path: Path) -> Path:
        assert await asyncio.to_thread(self.driver.save_screenshot, str(path)), path
        return path


_TEXTS = "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText);"
_ATTRIBUTES = (
    "return [...document.querySelectorAll(arguments[0])].map(e => "
    "arguments[1] in e ? String(e[arguments[1]]) : e.getAttribute(arguments[1]));"
)


def _browser_and_driver() -> tuple[Path, Path]:
    browser = _found("MINTBOT_CHROMIUM", BROWSER_NAMES)
    driver = _found("MINTBOT_CHROMEDRIVER", ("chromedriver",))
    if browser is None or driver is None:
        missing = " and ".join(
            what for what, path in (("Chromium", browser), ("chromedriver", driver)) if not path
        )
        pytest.fail(
            f"{missing} not found on the PATH: install them (`bash .ci/chromium.sh`, which "
            "`make test` runs first, says how)"
        )
    return browser, driver


def _chromium_options(directory: Path, browser: Path) -> Options:
    directory.mkdir(parents=True, exist_ok=True)
    options = Options()
    options.binary_location = str(browser)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={directory / 'profile'}"):
        options.add_argument(flag)
    return options


@contextlib.asynccontextmanager
async def chromium(directory: Path) -> AsyncIterator[Browser]:
    """Start chromedriver and a headless Chromium with a fresh profile under `directory`
    (chromedriver's log goes there too); quit both at the end."""
    browser, chromedriver = _browser_and_driver()
    options = _chromium_options(directory, browser)
    # Naming the driver's path keeps Selenium Manager (which downloads drivers) out of it.
    service = Service(str(chromedriver), log_output=str(directory / "chromedriver.log"))
    driver = await asyncio.to_thread(webdriver.Chrome, options=options, service=service)
    try:
        yield Browser(driver)
    finally:
        await asyncio.to_thread(driver.quit)
