"""A member signs in, creates a customer, finds it by search, and cannot open another
organization's customer — in a real headless Chromium against the live server."""

import re

import pytest
from playwright.sync_api import Page, expect

from crm.models import Organization
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers.models import Customer
from tests.browser.conftest import browser_db, screenshot
from tests.factories import PASSWORD, make_member, make_organization

pytestmark = [pytest.mark.browser, browser_db]


def sign_in(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_member_creates_finds_and_cannot_cross_tenants(live_server, page: Page) -> None:
    acme = make_organization(name="Acme Retail", slug="acme")
    bravo = make_organization(name="Bravo Stores", slug="bravo")
    member = make_member(acme, Role.SALES, email="sam@acme.test", full_name="Sam Sales")
    make_member(bravo, Role.OWNER, email="owner@bravo.test")
    with tenant_context(bravo.pk):
        secret = Customer.objects.create(organization=bravo, name="Bravo Secret Customer")

    sign_in(page, live_server.url, member.email)
    expect(page).to_have_url(re.compile(r"/acme/customers/$"))
    expect(page.get_by_text("No customers yet")).to_be_visible()
    screenshot(page, "customers-empty")

    page.get_by_role("button", name="Add customer").first.click()
    page.get_by_label(re.compile(r"^Name\b")).fill("Grace Hopper")
    page.get_by_label("E-mail addresses").fill("Grace.Hopper@Example.com")
    page.get_by_label("Phone numbers").fill("+1 (555) 010-4477")
    page.get_by_role("button", name="Add customer").click()
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    expect(page.get_by_text("grace.hopper@example.com")).to_be_visible()
    screenshot(page, "customer-detail")

    # Inline validation: a bad e-mail is named, nothing is created.
    page.goto(f"{live_server.url}/acme/customers/new/")
    page.get_by_label(re.compile(r"^Name\b")).fill("Bad Address")
    page.get_by_label("E-mail addresses").fill("not-an-email")
    page.get_by_role("button", name="Add customer").click()
    expect(page.get_by_text(re.compile("valid e-?mail", re.I)).first).to_be_visible()
    screenshot(page, "customer-form-errors")

    page.goto(f"{live_server.url}/acme/customers/")
    page.get_by_role("textbox", name="Search").fill("hopp")
    results = page.locator("#customer-results")
    expect(results.get_by_role("link", name="Grace Hopper")).to_be_visible()
    page.get_by_role("textbox", name="Search").fill("4477")
    expect(results.get_by_role("link", name="Grace Hopper")).to_be_visible()
    page.get_by_role("textbox", name="Search").fill("Bravo Secret")
    expect(results.get_by_text("No customer matches")).to_be_visible()
    screenshot(page, "customer-search")

    response = page.goto(f"{live_server.url}/bravo/customers/{secret.pk}/")
    assert response is not None and response.status == 404
    response = page.goto(f"{live_server.url}/acme/customers/{secret.pk}/")
    assert response is not None and response.status == 404

    with tenant_context(acme.pk):
        assert list(Customer.objects.values_list("name", flat=True)) == ["Grace Hopper"]
    with tenant_context(bravo.pk):
        assert Customer.objects.get(pk=secret.pk).name == "Bravo Secret Customer"
    assert Organization.objects.count() == 2
