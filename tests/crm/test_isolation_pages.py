"""Cross-tenant attempts on the settings pages: 404, and nothing changes."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import AuditEntry, Invitation, Membership, Organization, User
from crm.permissions import Role
from crm.selectors import invitation_token_hash
from crm.tenancy import tenant_context
from tests.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def bravo_member(org_b: Organization, owner_b: User) -> Membership:
    user = make_member(org_b, Role.SALES, email="sally@bravo.test")
    with tenant_context(org_b.pk):
        return Membership.objects.get(user=user)


@pytest.fixture
def bravo_invitation(org_b: Organization, owner_b: User) -> Invitation:
    with tenant_context(org_b.pk):
        return Invitation.objects.create(
            organization=org_b,
            email="guest@example.test",
            role=Role.VIEWER,
            token_hash=invitation_token_hash("bravo-token"),
            invited_by=owner_b,
            expires_at=timezone.now() + datetime.timedelta(days=7),
        )


def bravo_state(org_b: Organization) -> list[tuple[object, ...]]:
    with tenant_context(org_b.pk):
        members = list(Membership.objects.values_list("pk", "role", "is_active").order_by("pk"))
        invitations = list(
            Invitation.objects.values_list("pk", "revoked_at", "accepted_at").order_by("pk")
        )
        audit = AuditEntry.objects.count()
    return [*members, *invitations, ("audit", audit)]


def test_a_member_of_a_cannot_open_bs_settings_pages(client_a: Client, org_b: Organization) -> None:
    for path in (
        "/bravo/",
        "/bravo/settings/members/",
        "/bravo/settings/audit/",
        "/bravo/settings/organization/",
    ):
        assert client_a.get(path).status_code == 404, path
    response = client_a.post(
        "/bravo/settings/organization/",
        {"name": "Hijacked", "timezone": "UTC", "currency": "USD"},
    )
    assert response.status_code == 404
    org_b.refresh_from_db()
    assert org_b.name == "Bravo Stores"


def test_bs_membership_ids_on_as_urls_are_404_and_change_nothing(
    client_a: Client, org_a: Organization, org_b: Organization, bravo_member: Membership
) -> None:
    before = bravo_state(org_b)
    for name, data in (
        ("member_role", {"role": Role.VIEWER}),
        ("member_deactivate", {}),
        ("member_reactivate", {}),
    ):
        url = reverse(name, kwargs={"org_slug": "acme", "pk": bravo_member.pk})
        assert client_a.post(url, data).status_code == 404, name
        assert client_a.post(url, data, HTTP_HX_REQUEST="true").status_code == 404, name
    assert bravo_state(org_b) == before
    with tenant_context(org_a.pk):
        assert not AuditEntry.objects.exists()


def test_bs_invitation_id_and_token_are_404_in_a(
    client_a: Client, org_b: Organization, bravo_invitation: Invitation
) -> None:
    before = bravo_state(org_b)
    url = reverse("invitation_revoke", kwargs={"org_slug": "acme", "pk": bravo_invitation.pk})
    assert client_a.post(url).status_code == 404
    # B's token under A's address finds nothing (the lookup is inside A) and accepts nothing.
    accept = reverse("invitation_accept", kwargs={"org_slug": "acme", "token": "bravo-token"})
    assert Client().get(accept).status_code == 404
    assert (
        Client().post(accept, {"full_name": "G", "password": "a-long-passphrase-9"}).status_code
        == 404
    )
    assert not User.objects.filter(email="guest@example.test").exists()
    assert bravo_state(org_b) == before
    # Under B's own address the same token is a valid invitation.
    own = reverse("invitation_accept", kwargs={"org_slug": "bravo", "token": "bravo-token"})
    assert Client().get(own).status_code == 200


def test_as_members_page_lists_only_a(
    client_a: Client, bravo_member: Membership, bravo_invitation: Invitation
) -> None:
    page = client_a.get("/acme/settings/members/").content.decode()
    assert "owner@acme.test" in page
    assert "sally@bravo.test" not in page and "guest@example.test" not in page
    assert "owner@bravo.test" not in page


def test_a_deactivated_member_of_a_and_active_member_of_b_reaches_only_b(
    org_a: Organization, org_b: Organization
) -> None:
    user = make_member(org_a, Role.ADMIN)
    with tenant_context(org_b.pk):
        Membership.objects.create(organization=org_b, user=user, role=Role.ADMIN)
    with tenant_context(org_a.pk):
        Membership.objects.filter(user=user).update(is_active=False)
    client = Client()
    client.force_login(user)
    assert client.get("/acme/settings/members/").status_code == 404
    assert client.get("/bravo/settings/members/").status_code == 200
