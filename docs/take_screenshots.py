"""Take the README's screenshots from a running Touchpoint with the demo organization.

    make run                                   # in one terminal (or any server with the demo)
    .venv/bin/python docs/take_screenshots.py  # writes docs/screenshots/*.png

Options: --base-url (default http://127.0.0.1:8000), --out (default docs/screenshots),
--customer-id (the customer whose 360-degree view to show; default: the first in the list).
Drives Debian's Chromium through Playwright, as the browser tests do.
"""

import argparse
import re
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "touchpoint-demo"


def sign_in(page: Page, base_url: str, role: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("E-mail").fill(f"{role}@demo.touchpoint.test")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/demo/.*"))


def shoot(page: Page, out: Path, name: str, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / f"{name}.png"))
    print(f"{out / name}.png  <- {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default=str(Path(__file__).parent / "screenshots"))
    parser.add_argument("--customer-id", type=int)
    args = parser.parse_args()
    base, out = args.base_url.rstrip("/"), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        sign_in(page, base, "manager")
        org = f"{base}/demo"
        shoot(page, out, "customers", f"{org}/customers/")
        if args.customer_id:
            customer_url = f"{org}/customers/{args.customer_id}/"
        else:
            page.goto(f"{org}/customers/")
            page.locator("#customer-results tbody a").first.click()
            page.wait_for_load_state("networkidle")
            customer_url = page.url
        page.set_viewport_size({"width": 1280, "height": 1700})
        shoot(page, out, "customer-360", customer_url)
        page.set_viewport_size({"width": 1280, "height": 860})
        shoot(page, out, "cases", f"{org}/cases/")
        shoot(page, out, "my-tasks", f"{org}/tasks/")
        shoot(page, out, "duplicates", f"{org}/customers/duplicates/")
        shoot(page, out, "imports", f"{org}/customers/imports/")
        shoot(page, out, "api-docs", f"{base}/api/v1/docs/")
        browser.close()


if __name__ == "__main__":
    main()
