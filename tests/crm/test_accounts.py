"""Sign up, sign in and out, password reset, the home page and the organization settings page."""

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry, Membership, Organization, User
from crm.permissions import Role
from crm.services import RESERVED_SLUGS, organization_create
from crm.tenancy import tenant_context
from tests.factories import PASSWORD, make_member, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-much-longer-secret-42"


def signup_data(**overrides: str) -> dict[str, str]:
    data = {
        "full_name": "Grace Hopper",
        "email": "Grace@Example.test",
        "password": NEW_PASSWORD,
        "organization_name": "Hopper & Co",
        "timezone": "Europe/Paris",
        "currency": "eur",
    }
    data.update(overrides)
    return data


def memberships_of(organization: Organization) -> list[Membership]:
    with tenant_context(organization.pk):
        return list(Membership.objects.select_related("user").order_by("id"))


# --- Sign up ------------------------------------------------------------------------------------


def test_signup_creates_user_organization_and_owner_membership_and_signs_in() -> None:
    client = Client()
    assert client.get(reverse("signup")).status_code == 200

    response = client.post(reverse("signup"), signup_data())

    organization = Organization.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("org_home", kwargs={"org_slug": "hopper-co"})
    assert (organization.name, organization.slug) == ("Hopper & Co", "hopper-co")
    assert (organization.timezone, organization.currency) == ("Europe/Paris", "EUR")
    user = User.objects.get()
    assert user.email == "grace@example.test"
    assert user.full_name == "Grace Hopper"
    assert user.check_password(NEW_PASSWORD)
    [membership] = memberships_of(organization)
    assert (membership.user, membership.role, membership.is_active) == (user, Role.OWNER, True)
    assert int(client.session["_auth_user_id"]) == user.pk
    # The new owner reaches their organization's pages.
    members_page = client.get(reverse("members", kwargs={"org_slug": "hopper-co"}))
    assert members_page.status_code == 200
    assert "grace@example.test" in members_page.content.decode()
    # Both creations are in the new organization's audit trail.
    with tenant_context(organization.pk):
        created = set(AuditEntry.objects.values_list("object_type", "action"))
    assert created == {("crm.organization", "create"), ("crm.membership", "create")}


def test_slugs_are_deduplicated_and_never_reserved() -> None:
    owner = make_user()
    slugs = [
        organization_create(name=name, timezone="UTC", currency="USD", owner=owner).slug
        for name in ["Acme", "ACME", "acme!", "Admin", "Login", "Healthz", "日本", "日本"]
    ]
    assert slugs == [
        "acme",
        "acme-2",
        "acme-3",
        "admin-2",
        "login-2",
        "healthz-2",
        "organization",
        "organization-2",
    ]
    for word in RESERVED_SLUGS:
        organization = organization_create(name=word, timezone="UTC", currency="USD", owner=owner)
        assert organization.slug not in RESERVED_SLUGS
        assert organization.slug.startswith(f"{word}-")


def test_signup_page_avoids_reserved_slugs() -> None:
    response = Client().post(reverse("signup"), signup_data(organization_name="Accounts"))
    assert response["Location"] == "/accounts-2/"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "is not a known time zone"),
        ("currency", "EUX", "is not an ISO 4217 currency code"),
        ("currency", "EURO", "at most 3 characters"),
        ("email", "not-an-email", "Enter a valid email address"),
        ("password", "short", "too short"),
        ("password", "12345678901", "entirely numeric"),
        ("password", "grace@example.test", "too similar"),
        ("organization_name", "", "This field is required"),
    ],
)
def test_bad_signup_input_gives_a_field_error_and_creates_nothing(
    field: str, value: str, message: str
) -> None:
    response = Client().post(reverse("signup"), signup_data(**{field: value}))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert message in response.content.decode()
    assert not User.objects.exists()
    assert not Organization.objects.exists()


def test_signup_with_a_taken_email_is_refused(owner_a: User) -> None:
    response = Client().post(reverse("signup"), signup_data(email="OWNER@acme.test"))
    assert "already exists" in " ".join(response.context["form"].errors["email"])
    assert Organization.objects.count() == 1


def test_organization_create_validates_and_writes_nothing() -> None:
    owner = make_user()
    with pytest.raises(ValidationError) as raised:
        organization_create(name=" ", timezone="Nowhere", currency="XYZ", owner=owner)
    assert set(raised.value.message_dict) == {"name", "timezone", "currency"}
    assert not Organization.objects.exists()


def test_signed_in_user_creates_a_second_organization_and_works_in_both_tabs(
    client_a: Client, owner_a: User, org_a: Organization
) -> None:
    page = client_a.get(reverse("signup")).content.decode()
    assert 'name="email"' not in page and 'name="password"' not in page
    assert 'name="organization_name"' in page

    response = client_a.post(
        reverse("signup"),
        {"organization_name": "Bravo", "timezone": "Asia/Tokyo", "currency": "JPY"},
    )
    assert response["Location"] == "/bravo/"
    bravo = Organization.objects.get(slug="bravo")
    assert User.objects.count() == 1
    assert [(m.user, m.role) for m in memberships_of(bravo)] == [(owner_a, Role.OWNER)]

    # A colleague only in Acme, and an invitation only in Bravo.
    make_member(org_a, Role.SALES, email="sam@acme.test")
    invited = client_a.post(
        reverse("member_invite", kwargs={"org_slug": "bravo"}),
        {"email": "bea@bravo.test", "role": Role.VIEWER},
        follow=True,  # shows (and so consumes) the "Invitation sent" message
    )
    assert "Invitation sent to bea@bravo.test" in invited.content.decode()
    # The same client (two tabs) alternates between the organizations; each sees its own data.
    for _ in range(2):
        acme = client_a.get("/acme/settings/members/").content.decode()
        assert "sam@acme.test" in acme and "bea@bravo.test" not in acme
        bravo_page = client_a.get("/bravo/settings/members/").content.decode()
        assert "bea@bravo.test" in bravo_page and "sam@acme.test" not in bravo_page
        acme_settings = client_a.get("/acme/settings/organization/")
        assert acme_settings.context["form"]["name"].value() == "Acme Retail"
        bravo_settings = client_a.get("/bravo/settings/organization/")
        assert bravo_settings.context["form"]["timezone"].value() == "Asia/Tokyo"
    switcher = client_a.get("/acme/settings/members/").content.decode()
    assert 'href="/bravo/"' in switcher and "New organization…" in switcher


# --- Sign in, sign out --------------------------------------------------------------------------


def test_login_by_email_and_password_then_logout(owner_a: User) -> None:
    client = Client()
    assert client.get(reverse("login")).status_code == 200

    response = client.post(reverse("login"), {"email": "OWNER@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert int(client.session["_auth_user_id"]) == owner_a.pk

    assert client.get(reverse("logout")).status_code == 405  # sign out is POST only
    assert "_auth_user_id" in client.session
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session
    assert client.get("/acme/settings/members/")["Location"].startswith(reverse("login"))


def test_wrong_password_is_refused(owner_a: User) -> None:
    client = Client()
    response = client.post(reverse("login"), {"email": owner_a.email, "password": "nope"})
    assert response.status_code == 200
    assert "The e-mail or password is not right." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_follows_a_safe_next_only(owner_a: User) -> None:
    client = Client()
    response = client.post(
        reverse("login") + "?next=/acme/settings/members/",
        {"email": owner_a.email, "password": PASSWORD},
    )
    assert response["Location"] == "/acme/settings/members/"
    client.post(reverse("logout"))
    response = client.post(
        reverse("login"),
        {"email": owner_a.email, "password": PASSWORD, "next": "https://evil.test/"},
    )
    assert response["Location"] == reverse("home")


def test_inactive_user_cannot_sign_in(owner_a: User) -> None:
    User.objects.filter(pk=owner_a.pk).update(is_active=False)
    client = Client()
    client.post(reverse("login"), {"email": owner_a.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


# --- Password reset -----------------------------------------------------------------------------


def test_password_reset_mails_a_link_that_sets_a_new_password(owner_a: User) -> None:
    client = Client()
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": "Owner@Acme.test"})
    assert response["Location"] == reverse("password_reset_done")
    assert client.get(response["Location"]).status_code == 200

    [message] = mail.outbox
    assert message.to == [owner_a.email]
    assert message.subject == "Reset your Touchpoint password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body)
    assert link is not None

    response = client.get(link.group(1))  # Django swaps the token for a session marker
    assert response.status_code == 302
    form_page = client.get(response["Location"])
    assert form_page.context["validlink"] is True
    response = client.post(
        response["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response["Location"] == reverse("password_reset_complete")
    assert client.get(response["Location"]).status_code == 200

    owner_a.refresh_from_db()
    assert owner_a.check_password(NEW_PASSWORD)
    # The link is single-use.
    again = client.get(link.group(1), follow=True)
    assert again.context["validlink"] is False


def test_password_reset_for_an_unknown_email_sends_nothing_and_reveals_nothing(
    owner_a: User,
) -> None:
    response = Client().post(reverse("password_reset"), {"email": "nobody@example.test"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


# --- Home ---------------------------------------------------------------------------------------


def test_home_redirects_by_state(client_a: Client, org_a: Organization) -> None:
    assert Client().get(reverse("home"))["Location"] == reverse("login")
    assert client_a.get(reverse("home"))["Location"] == "/acme/"
    assert client_a.get("/acme/")["Location"] == reverse("customers:list", args=["acme"])

    loner = make_user()
    client = Client()
    client.force_login(loner)
    assert client.get(reverse("home"))["Location"] == reverse("signup")


def test_home_skips_organizations_where_the_member_is_deactivated(
    org_a: Organization, org_b: Organization
) -> None:
    user = make_member(org_a, Role.SALES)
    with tenant_context(org_b.pk):
        Membership.objects.create(organization=org_b, user=user, role=Role.SALES)
    with tenant_context(org_a.pk):
        Membership.objects.filter(user=user).update(is_active=False)
    client = Client()
    client.force_login(user)
    assert client.get(reverse("home"))["Location"] == "/bravo/"


# --- Organization settings ----------------------------------------------------------------------


def test_organization_settings_update_is_audited_and_keeps_the_slug(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    url = reverse("organization_settings", kwargs={"org_slug": "acme"})
    page = client_a.get(url).content.decode()
    assert "/acme/" in page and 'aria-current="page">Organization' in page

    response = client_a.post(
        url, {"name": "Acme Worldwide", "timezone": "America/New_York", "currency": "usd"}
    )
    assert response["Location"] == url
    org_a.refresh_from_db()
    assert (org_a.name, org_a.slug, org_a.timezone, org_a.currency) == (
        "Acme Worldwide",
        "acme",
        "America/New_York",
        "USD",
    )
    with tenant_context(org_a.pk):
        entry = AuditEntry.objects.get(object_type="crm.organization")
    assert entry.actor == owner_a
    assert entry.changes == {
        "name": ["Acme Retail", "Acme Worldwide"],
        "timezone": ["UTC", "America/New_York"],
    }


def test_organization_settings_reject_bad_values(client_a: Client, org_a: Organization) -> None:
    url = reverse("organization_settings", kwargs={"org_slug": "acme"})
    response = client_a.post(url, {"name": "", "timezone": "Atlantis", "currency": "ABC"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "timezone", "currency"}
    org_a.refresh_from_db()
    assert org_a.name == "Acme Retail"
