"""Members: invitations (mailed by the Celery task), accepting them, roles, (de)activation."""

import datetime
import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.celery import app as celery_app
from crm.models import AuditEntry, Invitation, Membership, Organization, User
from crm.permissions import Role
from crm.services import invitation_create
from crm.tenancy import tenant_context
from tests.conftest import member_client
from tests.factories import PASSWORD, make_member, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-much-longer-secret-42"
LINK = re.compile(r"http://testserver/(?P<slug>[\w-]+)/invitations/(?P<token>[\w-]+)/")


@pytest.fixture(autouse=True)
def eager_celery() -> Iterator[None]:
    """Run Celery tasks in-process, as they are called, for these tests."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


@pytest.fixture
def invite(
    client_a: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Callable[..., str]:
    """Invite by the members page as Acme's owner; returns the token from the e-mail sent."""

    def invite(email: str, role: str = Role.SALES, client: Client = client_a) -> str:
        sent = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("member_invite", kwargs={"org_slug": "acme"}),
                {"email": email, "role": role},
            )
        assert response.status_code == 302, response.content.decode()
        assert len(mail.outbox) == sent + 1
        match = LINK.search(mail.outbox[-1].body)
        assert match is not None and match["slug"] == "acme"
        return match["token"]

    return invite


def accept_url(token: str, slug: str = "acme") -> str:
    return reverse("invitation_accept", kwargs={"org_slug": slug, "token": token})


def membership(organization: Organization, user: User) -> Membership:
    with tenant_context(organization.pk):
        return Membership.objects.get(user=user)


def invitation(organization: Organization, email: str) -> Invitation:
    with tenant_context(organization.pk):
        return Invitation.objects.filter(email=email).latest("id")


def audit(organization: Organization, **filters: Any) -> list[AuditEntry]:
    with tenant_context(organization.pk):
        return list(AuditEntry.objects.filter(**filters).order_by("id"))


def role_url(name: str, member: Membership) -> str:
    return reverse(name, kwargs={"org_slug": "acme", "pk": member.pk})


# --- Inviting -----------------------------------------------------------------------------------


def test_invitation_mail_carries_the_token_and_only_its_hash_is_stored(
    invite: Callable[..., str], org_a: Organization, owner_a: User
) -> None:
    token = invite("New.Person@Example.test", Role.MANAGER)

    message = mail.outbox[-1]
    assert message.to == ["new.person@example.test"]
    assert message.subject == "Ada Owner invited you to Acme Retail on Touchpoint"
    assert "as Manager" in message.body
    stored = invitation(org_a, "new.person@example.test")
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(stored.__dict__)
    assert stored.invited_by == owner_a
    expected_expiry = timezone.now() + datetime.timedelta(days=7)
    assert abs(stored.expires_at - expected_expiry) < datetime.timedelta(minutes=1)
    [entry] = audit(org_a, object_type="crm.invitation")
    assert entry.action == "create" and entry.actor == owner_a
    assert entry.changes["email"] == [None, "new.person@example.test"]
    assert entry.changes["role"] == [None, Role.MANAGER]
    assert "token_hash" not in entry.changes


def test_members_page_lists_members_and_pending_invitations(
    client_a: Client, invite: Callable[..., str], org_a: Organization
) -> None:
    make_member(org_a, Role.SALES, email="sam@acme.test", full_name="Sam Sales")
    invite("pending@example.test", Role.VIEWER)
    page = client_a.get(reverse("members", kwargs={"org_slug": "acme"})).content.decode()
    assert "Sam Sales" in page and "sam@acme.test" in page
    assert "Ada Owner" in page and "(you)" in page
    assert page.index("Ada Owner") < page.index("Sam Sales")  # by name
    assert "pending@example.test" in page and "Viewer" in page
    assert 'aria-current="page">Members' in page


def test_inviting_an_active_member_is_a_field_error(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    make_member(org_a, Role.SALES, email="sam@acme.test")
    response = client_a.post(
        reverse("member_invite", kwargs={"org_slug": "acme"}),
        {"email": "SAM@acme.test", "role": Role.VIEWER},
    )
    assert response.status_code == 200
    assert "already a member" in " ".join(response.context["invite_form"].errors["email"])
    assert mail.outbox == []
    with tenant_context(org_a.pk):
        assert not Invitation.objects.exists()


def test_inviting_again_replaces_the_earlier_link(
    invite: Callable[..., str], org_a: Organization
) -> None:
    first = invite("twice@example.test")
    second = invite("twice@example.test")
    assert "withdrawn" in Client().get(accept_url(first)).content.decode()
    assert Client().get(accept_url(second)).status_code == 200


def test_admin_cannot_invite_an_owner(org_a: Organization, owner_a: User) -> None:
    _admin, client = member_client(org_a, Role.ADMIN)
    response = client.post(
        reverse("member_invite", kwargs={"org_slug": "acme"}),
        {"email": "boss@example.test", "role": Role.OWNER},
    )
    assert "Select a valid choice" in " ".join(response.context["invite_form"].errors["role"])
    assert mail.outbox == []


# --- Accepting ----------------------------------------------------------------------------------


def test_accept_as_a_new_user_creates_the_account_and_membership(
    invite: Callable[..., str], org_a: Organization
) -> None:
    token = invite("newbie@example.test", Role.SERVICE)
    client = Client()
    page = client.get(accept_url(token))
    assert page.status_code == 200
    assert "Create account and join" in page.content.decode()

    response = client.post(accept_url(token), {"full_name": "Nina New", "password": "short"})
    assert "too short" in " ".join(response.context["form"].errors["password"])
    assert not User.objects.filter(email="newbie@example.test").exists()

    response = client.post(accept_url(token), {"full_name": "Nina New", "password": NEW_PASSWORD})
    assert response["Location"] == "/acme/"
    user = User.objects.get(email="newbie@example.test")
    assert user.full_name == "Nina New" and user.check_password(NEW_PASSWORD)
    assert int(client.session["_auth_user_id"]) == user.pk
    joined = membership(org_a, user)
    assert (joined.role, joined.is_active) == (Role.SERVICE, True)
    assert invitation(org_a, user.email).accepted_at is not None
    assert client.get(reverse("members", kwargs={"org_slug": "acme"})).status_code == 200
    # The join is audited with the new member as actor.
    [created] = audit(org_a, object_type="crm.membership", object_id=str(joined.pk))
    assert created.actor == user and created.changes["role"] == [None, Role.SERVICE]
    accepted = audit(org_a, object_type="crm.invitation", action="update")
    assert accepted[-1].changes["accepted_at"][0] is None
    # The link is single-use.
    used = Client().get(accept_url(token))
    assert used.status_code == 410
    assert "already been used" in used.content.decode()


def test_accept_as_an_existing_user_asks_to_sign_in_then_joins(
    invite: Callable[..., str], org_a: Organization
) -> None:
    user = make_user(email="known@example.test")
    token = invite("KNOWN@example.test", Role.MANAGER)
    client = Client()
    page = client.get(accept_url(token)).content.decode()
    login_link = f"{reverse('login')}?next=%2Facme%2Finvitations%2F{token}%2F"
    assert login_link in page
    assert 'name="password"' not in page  # no account creation for a known address

    response = client.post(login_link, {"email": user.email, "password": PASSWORD})
    assert response["Location"] == accept_url(token)
    page = client.get(accept_url(token)).content.decode()
    assert "Join Acme Retail" in page
    response = client.post(accept_url(token))
    assert response["Location"] == "/acme/"
    assert membership(org_a, user).role == Role.MANAGER


def test_signed_in_as_someone_else_is_told_so(
    invite: Callable[..., str], org_a: Organization, owner_b: User, client_b: Client
) -> None:
    token = invite("someone@example.test")
    page = client_b.get(accept_url(token)).content.decode()
    assert "signed in as <strong>owner@bravo.test</strong>" in page
    assert reverse("logout") in page
    client_b.post(accept_url(token))
    with tenant_context(org_a.pk):
        assert not Membership.objects.filter(user=owner_b).exists()
    assert invitation(org_a, "someone@example.test").accepted_at is None
    # Signing out from there comes back to the invitation.
    response = client_b.post(reverse("logout"), {"next": accept_url(token)})
    assert response["Location"] == accept_url(token)


def test_expired_revoked_and_unknown_invitations_are_refused(
    invite: Callable[..., str], client_a: Client, org_a: Organization
) -> None:
    expired = invite("late@example.test")
    with tenant_context(org_a.pk):
        Invitation.objects.filter(email="late@example.test").update(
            expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )
    revoked = invite("gone@example.test")
    response = client_a.post(
        reverse(
            "invitation_revoke",
            kwargs={"org_slug": "acme", "pk": invitation(org_a, "gone@example.test").pk},
        ),
        follow=True,
    )
    assert "was withdrawn" in response.content.decode()

    for token, words in ((expired, "has expired"), (revoked, "has been withdrawn")):
        client = Client()
        page = client.get(accept_url(token))
        assert page.status_code == 410 and words in page.content.decode()
        response = client.post(accept_url(token), {"full_name": "X", "password": NEW_PASSWORD})
        assert response.status_code == 410
    assert not User.objects.filter(email__in=["late@example.test", "gone@example.test"]).exists()
    assert Client().get(accept_url("not-a-real-token")).status_code == 404
    assert Client().get(accept_url(expired, slug="nowhere")).status_code == 404
    [revocation] = audit(org_a, object_type="crm.invitation", action="update")
    assert revocation.changes["revoked_at"][0] is None


def test_a_reinvited_deactivated_member_is_reactivated_with_the_new_role(
    invite: Callable[..., str], client_a: Client, org_a: Organization
) -> None:
    user = make_member(org_a, Role.SALES, email="back@example.test")
    client_a.post(role_url("member_deactivate", membership(org_a, user)))
    assert membership(org_a, user).is_active is False

    token = invite("back@example.test", Role.MANAGER)
    client = Client()
    client.force_login(user)
    assert client.get("/acme/settings/members/").status_code == 404
    client.post(accept_url(token))
    again = membership(org_a, user)
    assert (again.is_active, again.role) == (True, Role.MANAGER)
    assert client.get("/acme/settings/members/").status_code == 200
    with tenant_context(org_a.pk):
        assert Membership.objects.filter(user=user).count() == 1


# --- Roles and (de)activation ---------------------------------------------------------------------


def test_owner_changes_a_role_with_audit(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    sam = membership(org_a, make_member(org_a, Role.SALES, full_name="Sam Sales"))
    response = client_a.post(role_url("member_role", sam), {"role": Role.MANAGER}, follow=True)
    assert "Sam Sales is now Manager." in response.content.decode()
    assert membership(org_a, sam.user).role == Role.MANAGER
    [entry] = audit(org_a, object_type="crm.membership", object_id=str(sam.pk))
    assert entry.action == "update" and entry.actor == owner_a
    assert entry.changes == {"role": [Role.SALES, Role.MANAGER]}


def test_htmx_role_change_swaps_the_member_row(client_a: Client, org_a: Organization) -> None:
    sam = membership(org_a, make_member(org_a, Role.SALES, full_name="Sam Sales"))
    response = client_a.post(
        role_url("member_role", sam), {"role": Role.VIEWER}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith(f'<tr id="member-{sam.pk}">')
    assert "<html" not in body
    assert '<option value="viewer" selected>' in body
    assert "Sam Sales is now Viewer." in body
    # An error comes back in the row too, and changes nothing.
    response = client_a.post(
        role_url("member_deactivate", membership(org_a, User.objects.get(email="owner@acme.test"))),
        HTTP_HX_REQUEST="true",
    )
    assert "You cannot deactivate yourself." in response.content.decode()


def test_admin_cannot_grant_or_touch_the_owner_role(org_a: Organization, owner_a: User) -> None:
    _admin, client = member_client(org_a, Role.ADMIN)
    sam = membership(org_a, make_member(org_a, Role.SALES))
    owner = membership(org_a, owner_a)

    response = client.post(role_url("member_role", sam), {"role": Role.OWNER}, follow=True)
    assert "Only an owner can grant the owner role." in response.content.decode()
    response = client.post(role_url("member_role", owner), {"role": Role.VIEWER}, follow=True)
    assert "Only an owner can change an owner&#x27;s role." in response.content.decode()
    response = client.post(role_url("member_deactivate", owner), follow=True)
    assert "Only an owner can deactivate an owner." in response.content.decode()

    assert membership(org_a, sam.user).role == Role.SALES
    owner = membership(org_a, owner_a)
    assert (owner.role, owner.is_active) == (Role.OWNER, True)
    assert audit(org_a, object_type="crm.membership") == []
    # An admin may still manage non-owners.
    client.post(role_url("member_role", sam), {"role": Role.ADMIN})
    assert membership(org_a, sam.user).role == Role.ADMIN


def test_the_last_owner_is_protected(client_a: Client, org_a: Organization, owner_a: User) -> None:
    me = membership(org_a, owner_a)
    response = client_a.post(role_url("member_role", me), {"role": Role.ADMIN}, follow=True)
    assert "last owner" in response.content.decode()
    assert membership(org_a, owner_a).role == Role.OWNER

    # With a second owner, the first may step down; the second then cannot.
    second = membership(org_a, make_member(org_a, Role.SALES))
    client_a.post(role_url("member_role", second), {"role": Role.OWNER})
    assert membership(org_a, second.user).role == Role.OWNER
    client_a.post(role_url("member_role", me), {"role": Role.ADMIN})
    assert membership(org_a, owner_a).role == Role.ADMIN
    second_client = Client()
    second_client.force_login(second.user)
    second_client.post(role_url("member_role", second), {"role": Role.VIEWER})
    assert membership(org_a, second.user).role == Role.OWNER


def test_nobody_deactivates_themselves(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    response = client_a.post(role_url("member_deactivate", membership(org_a, owner_a)), follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    assert membership(org_a, owner_a).is_active is True


def test_deactivated_member_loses_access_until_reactivated(
    client_a: Client, org_a: Organization, owner_a: User
) -> None:
    user, client = member_client(org_a, Role.MANAGER)
    assert client.get("/acme/settings/members/").status_code == 200

    response = client_a.post(role_url("member_deactivate", membership(org_a, user)), follow=True)
    assert "was deactivated" in response.content.decode()
    for path in ("/acme/", "/acme/settings/members/", "/acme/customers/"):
        assert client.get(path).status_code == 404
    page = client_a.get("/acme/settings/members/").content.decode()
    assert "Deactivated" in page and "Reactivate" in page

    client_a.post(role_url("member_reactivate", membership(org_a, user)))
    assert client.get("/acme/settings/members/").status_code == 200
    changes = [e.changes for e in audit(org_a, object_type="crm.membership")]
    assert changes == [{"is_active": [True, False]}, {"is_active": [False, True]}]


def test_viewer_sees_members_but_cannot_manage_them(
    org_a: Organization, owner_a: User, invite: Callable[..., str]
) -> None:
    invite("pending@example.test")
    _viewer, client = member_client(org_a, Role.VIEWER)
    page = client.get("/acme/settings/members/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "pending@example.test" in content
    assert "Invite a colleague" not in content and "Deactivate" not in content
    owner = membership(org_a, owner_a)
    pending = invitation(org_a, "pending@example.test")
    forbidden = [
        (reverse("member_invite", kwargs={"org_slug": "acme"}), {"email": "x@example.test"}),
        (role_url("member_role", owner), {"role": Role.VIEWER}),
        (role_url("member_deactivate", owner), {}),
        (role_url("member_reactivate", owner), {}),
        (role_url("invitation_revoke", pending), {}),
    ]
    for url, data in forbidden:
        assert client.post(url, data).status_code == 403
    assert membership(org_a, owner_a).role == Role.OWNER
    assert invitation(org_a, "pending@example.test").revoked_at is None


def test_role_and_status_forms_are_post_only(client_a: Client, org_a: Organization) -> None:
    sam = membership(org_a, make_member(org_a, Role.SALES))
    assert client_a.get(role_url("member_role", sam)).status_code == 405
    assert client_a.get(role_url("member_deactivate", sam)).status_code == 405


def test_invitation_create_service_validates(org_a: Organization, owner_a: User) -> None:
    from django.core.exceptions import ValidationError

    with tenant_context(org_a.pk):
        with pytest.raises(ValidationError) as raised:
            invitation_create(organization=org_a, actor=owner_a, email="nope", role=Role.SALES)
        assert "email" in raised.value.message_dict
        with pytest.raises(ValidationError) as raised:
            invitation_create(
                organization=org_a, actor=owner_a, email="a@example.test", role="emperor"
            )
        assert "role" in raised.value.message_dict
        assert not Invitation.objects.exists()


@pytest.mark.parametrize("count", [3, 30])
def test_members_page_query_count_does_not_grow(
    count: int,
    client_a: Client,
    org_a: Organization,
    owner_a: User,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    for _ in range(count):
        make_member(org_a, Role.SALES)
    with tenant_context(org_a.pk):
        for number in range(count):
            invitation_create(
                organization=org_a, actor=owner_a, email=f"p{number}@example.test", role=Role.VIEWER
            )
    with django_assert_max_num_queries(9):
        response = client_a.get(reverse("members", kwargs={"org_slug": "acme"}))
    assert len(response.context["rows"]) == min(count + 1, 25)
    assert len(response.context["invitations"]) == count
