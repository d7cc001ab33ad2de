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
from interactions.models import Case, Interaction, Kind, Task
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, browser_db, screenshot
from tests.customers.helpers import add_customer as create_customer
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


def test_a_service_agent_finds_a_customer_reads_every_channel_logs_a_call_and_opens_a_case(
    live_server,
) -> None:
    acme = make_organization(name="Acme Retail", slug="acme")
    agent = make_member(acme, Role.SERVICE, email="sue@acme.test", full_name="Sue Service")
    # Through the customer services, so that they are indexed for search.
    customer = create_customer(acme, "Ada Lovelace", emails=["ada@example.com"])
    create_customer(acme, "Charles Babbage")
    history = [
        (Kind.EMAIL_OPENED, "email", "Opened: spring catalogue", 40),
        (Kind.WEB_VISIT, "web", "Viewed rain jackets", 30),
        (Kind.STORE_VISIT, "store", "Tried on boots in Leeds", 20),
        (Kind.COMPLAINT, "phone", "Boots leak after a week", 3),
    ]
    for kind, channel, subject, days in history:
        add_interaction(
            customer, kind=kind, channel=channel, subject=subject, occurred_at=ago(days=days)
        )

    def flow(page: Page) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("E-mail").fill(agent.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/acme/"))

        # The customer calls: the agent finds her by e-mail.
        page.goto(f"{live_server.url}/acme/customers/")
        page.get_by_role("textbox", name="Search").fill("ada@example")
        results = page.locator("#customer-results")
        expect(results.get_by_role("link", name="Ada Lovelace")).to_be_visible()
        expect(results.get_by_role("link", name="Charles Babbage")).to_have_count(0)
        results.get_by_role("link", name="Ada Lovelace").click()
        expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()

        # Her history on every channel is on one timeline, newest first.
        entries = page.locator(f"#timeline-entries-{customer.pk} > li.timeline-entry")
        expect(entries).to_have_count(4)
        expect(entries.nth(0)).to_contain_text("Boots leak after a week")
        expect(entries.nth(1)).to_contain_text("Tried on boots in Leeds")
        expect(entries.nth(2)).to_contain_text("Viewed rain jackets")
        expect(entries.nth(3)).to_contain_text("Opened: spring catalogue")

        # She explains once; the agent logs the call.
        page.get_by_role("button", name="Log call").click()
        form = page.locator(f"#quick-action-slot-{customer.pk} form")
        expect(form).to_be_visible()
        settled(page)
        form.get_by_label("Subject").fill("Called about leaking boots")
        form.get_by_role("button", name="Log it").click()
        expect(page.get_by_text("Call logged.")).to_be_visible()
        expect(entries.first).to_contain_text("Called about leaking boots")
        settled(page)

        # And opens a case for the faulty boots, without leaving the page.
        page.get_by_role("button", name="Open case").click()
        case_form = page.locator(f"#quick-action-slot-{customer.pk} form")
        expect(case_form).to_be_visible()
        settled(page)
        case_form.get_by_label("Subject").fill("Replace leaking boots")
        case_form.get_by_label("Priority").select_option("high")
        case_form.get_by_role("button", name="Open case").click()
        expect(page.get_by_text("Case #1 opened.", exact=True)).to_be_visible()
        expect(entries.first).to_contain_text("Replace leaking boots")
        screenshot(page, "service-agent-360")

    drive(flow)
    with tenant_context(acme.pk):
        call = Interaction.objects.get(kind=Kind.CALL)
        case = Case.objects.get()
    assert (call.customer_id, call.subject, call.user_id) == (
        customer.pk,
        "Called about leaking boots",
        agent.pk,
    )
    assert (case.customer_id, case.subject, case.priority, case.number) == (
        customer.pk,
        "Replace leaking boots",
        "high",
        1,
    )
