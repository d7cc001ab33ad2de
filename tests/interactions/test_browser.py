"""The 360-degree view in a real headless Chromium: the timeline pages as you scroll, quick
actions update the timeline and key facts in place, follow-ups, the queue and my tasks.

Chromium is driven from a thread of its own: Playwright's sync API refuses to start while
another instance (the session-wide one of tests/browser) runs in the test thread.
"""

import re
import threading
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from crm.permissions import Role
from crm.tenancy import tenant_context
from interactions.models import Case, Kind, Task
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, browser_db, screenshot
from tests.factories import PASSWORD, make_member, make_organization
from tests.interactions.helpers import add_customer, add_interaction, ago

pytestmark = [pytest.mark.browser, browser_db]


def drive(flow: Callable[[Page], None]) -> None:
    """Run `flow` with a fresh Chromium page in another thread; re-raise what it raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
                    page.set_default_timeout(15_000)
                    flow(page)
                finally:
                    browser.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def settled(page: Page) -> None:
    """Wait until HTMX has finished swapping (and wiring up) what it loaded."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, "
        ".htmx-added')"
    )


def sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/acme/"))


def test_the_timeline_and_quick_actions_work_in_place(live_server) -> None:
    acme = make_organization(name="Acme Retail", slug="acme")
    member = make_member(acme, Role.SALES, email="sam@acme.test", full_name="Sam Sales")
    customer = add_customer(acme, "Grace Hopper")
    for index in range(30):
        add_interaction(customer, subject=f"Entry {index:02d}", occurred_at=ago(days=index + 1))
    with tenant_context(acme.pk):
        case = Case.objects.create(
            organization=acme, number=1, customer=customer, subject="Broken zip", due_at=ago()
        )

    def flow(page: Page) -> None:
        sign_in(page, live_server.url, member.email)
        page.goto(f"{live_server.url}/acme/customers/{customer.pk}/")
        entries = page.locator(f"#timeline-entries-{customer.pk} > li.timeline-entry")
        expect(page.get_by_role("heading", name="Key facts")).to_be_visible()
        expect(entries).to_have_count(25)
        # Scrolling to the end loads the next page.
        entries.nth(24).scroll_into_view_if_needed()
        page.locator(".timeline-more").scroll_into_view_if_needed()
        expect(entries).to_have_count(30)
        expect(page.get_by_text("Entry 29")).to_be_visible()

        # Log a meeting: choosing the kind presets the channel.
        page.get_by_role("button", name="Log call").click()
        form = page.locator(f"#quick-action-slot-{customer.pk} form")
        expect(form).to_be_visible()
        settled(page)
        form.get_by_label("Kind").select_option("meeting")
        expect(form.get_by_label("Channel")).to_have_value("in_person")
        form.get_by_label("Subject").fill("Met at the Leeds store")
        screenshot(page, "timeline-quick-action")
        form.get_by_role("button", name="Log it").click()
        expect(page.get_by_text("Meeting logged.")).to_be_visible()
        expect(entries.first).to_contain_text("Met at the Leeds store")
        # The key facts reloaded: the meeting is now the last contact per channel.
        expect(page.locator(".key-facts .channel-facts")).to_contain_text("In person")
        settled(page)

        # A follow-up from that entry, prefilled and linked.
        entries.first.get_by_role("button", name="Follow up").click()
        followup = entries.first.locator("form")
        expect(followup).to_be_visible()
        settled(page)
        expect(followup.get_by_label("Title")).to_have_value(
            "Follow up: Meeting: Met at the Leeds store"
        )
        followup.get_by_role("button", name="Create task").click()
        expect(page.get_by_text("Task created.")).to_be_visible()
        expect(page.locator(".timeline-task").first).to_contain_text("Follow up: Meeting")
        settled(page)
        screenshot(page, "customer-360")

        # My tasks: mark done in place.
        page.goto(f"{live_server.url}/acme/tasks/")
        row = page.locator("tr", has_text="Follow up: Meeting")
        row.get_by_role("button", name=re.compile("Mark done")).click()
        expect(page.locator("tr", has_text="Follow up: Meeting")).to_contain_text("Reopen")
        screenshot(page, "my-tasks")

        # The queue: change status and assignee in place.
        page.goto(f"{live_server.url}/acme/cases/?tab=open")
        page.get_by_label("Status of case #1").select_option("open")
        expect(page.locator(f"#case-{case.pk}")).to_contain_text("Case #1 is now Open.")
        settled(page)
        page.get_by_label("Assignee of case #1").select_option(str(member.pk))
        expect(page.locator(f"#case-{case.pk}")).to_contain_text("assigned to Sam Sales")
        screenshot(page, "service-queue")

    drive(flow)
    with tenant_context(acme.pk):
        case.refresh_from_db()
        task = Task.objects.select_related("interaction").get()
    assert (case.status, case.assignee_id) == ("open", member.pk)
    assert task.interaction is not None and task.interaction.kind == Kind.MEETING
    assert task.done_at is not None
