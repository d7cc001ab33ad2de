"""The browser harness itself: Chromium reaches the live server, which runs as the app role."""

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import browser_db

pytestmark = [pytest.mark.browser, browser_db]


def test_chromium_loads_the_health_page(live_server, page: Page) -> None:
    page.goto(f"{live_server.url}/healthz")
    assert '"database": "ok"' in page.content()
