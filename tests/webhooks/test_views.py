"""The webhooks settings pages: admins only, per organization, audited, bounded queries; and
row-level security on the webhook tables."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry, Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from crm.webhooks import events, services
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import member_client
from tests.webhooks.conftest import Receiver, TaskQueue, queued

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"


def url(name: str, org: str = "acme", **kwargs: Any) -> str:
    return reverse(f"webhooks:{name}", kwargs={"org_slug": org, **kwargs})


@pytest.fixture
def endpoint_a(
    org_a: Organization, owner_a: User, make_endpoint: Callable[..., WebhookEndpoint]
) -> WebhookEndpoint:
    return make_endpoint(org_a, owner_a, HOOK, [events.CUSTOMER_CREATED], description="Shop")


def add_deliveries(endpoint: WebhookEndpoint, count: int) -> None:
    with tenant_context(endpoint.organization_id):
        WebhookDelivery.objects.bulk_create(
            WebhookDelivery(
                organization_id=endpoint.organization_id,
                endpoint=endpoint,
                event=events.CUSTOMER_CREATED,
                payload={"data": {"id": number}},
                status=WebhookDelivery.Status.FAILED,
                attempts=3,
                last_status_code=500,
                last_error="HTTP 500 <script>boom</script>",
            )
            for number in range(count)
        )


def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(
    client_a: Client, org_a: Organization
) -> None:
    response = client_a.post(
        url("create"),
        {"url": HOOK, "description": "Shop sync", "events": ["customer.created", "task.created"]},
    )
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["customer.created", "task.created"]
    assert response["Location"] == url("detail", pk=endpoint.pk)
    first = client_a.get(response["Location"]).content.decode()
    assert endpoint.secret in first
    second = client_a.get(response["Location"]).content.decode()
    assert endpoint.secret not in second and "Reveal" in second
    revealed = client_a.post(url("secret", pk=endpoint.pk), HTTP_HX_REQUEST="true")
    assert endpoint.secret in revealed.content.decode()
    assert "<html" not in revealed.content.decode()  # the secret partial only
    with tenant_context(org_a.pk):
        entry = AuditEntry.objects.get(object_type="webhooks.webhookendpoint")
    assert entry.changes["url"] == [None, HOOK]
    assert endpoint.secret not in str(entry.changes)
    listing = client_a.get(url("list")).content.decode()
    assert HOOK in listing and "Shop sync" in listing


def test_bad_input_names_the_field_and_changes_nothing(
    client_a: Client, org_a: Organization
) -> None:
    response = client_a.post(url("create"), {"url": "not a url", "events": []})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter a valid" in page and "Choose at least one event." in page
    response = client_a.post(url("create"), {"url": HOOK, "events": ["customer.deleted"]})
    assert "not one of the available choices" in response.content.decode()
    with tenant_context(org_a.pk):
        assert WebhookEndpoint.objects.count() == 0


def test_edit_enable_disable_rotate_test_redeliver_and_delete(
    client_a: Client,
    org_a: Organization,
    endpoint_a: WebhookEndpoint,
    receiver: Receiver,
    task_queue: TaskQueue,
) -> None:
    response = client_a.post(
        url("edit", pk=endpoint_a.pk),
        {"url": receiver.url, "description": "Shop", "events": ["task.completed"]},
    )
    assert response.status_code == 302
    response = client_a.post(url("set_active", pk=endpoint_a.pk), {"active": "0"})
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == receiver.url and endpoint.events == ["task.completed"]
    assert not endpoint.active and endpoint.disabled_reason == "Disabled by an admin."
    assert "Disabled by an admin." in client_a.get(url("detail", pk=endpoint.pk)).content.decode()
    client_a.post(url("set_active", pk=endpoint_a.pk), {"active": "1"})
    client_a.post(url("rotate", pk=endpoint_a.pk))
    with tenant_context(org_a.pk):
        rotated = WebhookEndpoint.objects.get()
    assert rotated.active and rotated.secret != endpoint.secret

    client_a.post(url("test", pk=endpoint_a.pk))
    with tenant_context(org_a.pk):
        delivery = WebhookDelivery.objects.get()
    task_queue.items.clear()  # not committed here: run it by hand
    task_queue.items.append(queued(delivery))
    assert task_queue.run() == ["succeeded"]
    assert receiver.requests[0].headers["touchpoint-event"] == "webhook.test"
    response = client_a.post(url("redeliver", pk=endpoint_a.pk, delivery_pk=delivery.pk))
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        assert WebhookDelivery.objects.filter(event_id=delivery.event_id).count() == 2
    page = client_a.get(url("detail", pk=endpoint_a.pk)).content.decode()
    assert "webhook.test" in page and "Succeeded" in page and "HTTP 200" in page

    response = client_a.post(url("delete", pk=endpoint_a.pk))
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        assert WebhookEndpoint.objects.count() == 0
        assert WebhookDelivery.objects.count() == 0
        actions = list(
            AuditEntry.objects.filter(object_type="webhooks.webhookendpoint")
            .order_by("id")
            .values_list("action", flat=True)
        )
    assert actions == ["create", "update", "update", "update", "update", "delete"]


def test_the_delivery_log_escapes_errors_and_paginates(
    client_a: Client, endpoint_a: WebhookEndpoint
) -> None:
    add_deliveries(endpoint_a, 30)
    page = client_a.get(url("detail", pk=endpoint_a.pk)).content.decode()
    assert "<script>boom" not in page and "&lt;script&gt;boom" in page
    assert "Page 1 of 2" in page
    assert (
        "Page 2 of 2" in client_a.get(url("detail", pk=endpoint_a.pk) + "?page=2").content.decode()
    )


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES, Role.SERVICE, Role.VIEWER])
def test_only_admins_may_manage_webhooks(
    org_a: Organization, endpoint_a: WebhookEndpoint, role: Role
) -> None:
    _user, client = member_client(org_a, role)
    assert client.get(url("list")).status_code == 403
    assert client.post(url("create"), {"url": HOOK, "events": ["task.created"]}).status_code == 403
    assert client.post(url("secret", pk=endpoint_a.pk)).status_code == 403
    assert client.get(url("detail", pk=endpoint_a.pk)).status_code == 403
    assert client.post(url("delete", pk=endpoint_a.pk)).status_code == 403
    with tenant_context(org_a.pk):
        assert WebhookEndpoint.objects.count() == 1


def test_an_admin_may_manage_webhooks(org_a: Organization) -> None:
    _user, client = member_client(org_a, Role.ADMIN)
    assert client.get(url("list")).status_code == 200
    assert client.post(url("create"), {"url": HOOK, "events": ["task.created"]}).status_code == 302


def test_another_organization_cannot_see_or_change_an_endpoint(
    client_b: Client, org_a: Organization, endpoint_a: WebhookEndpoint
) -> None:
    with tenant_context(org_a.pk):
        delivery = services.webhook_send_test(organization=org_a, actor=None, endpoint=endpoint_a)
    # Through A's URLs: not a member, 404.
    assert client_b.get(url("list")).status_code == 404
    assert client_b.get(url("detail", pk=endpoint_a.pk)).status_code == 404
    # Through B's own URLs with A's ids: 404, nothing changed, nothing sent.
    pk = endpoint_a.pk
    assert client_b.get(url("detail", "bravo", pk=pk)).status_code == 404
    assert client_b.post(url("secret", "bravo", pk=pk)).status_code == 404
    assert (
        client_b.post(
            url("edit", "bravo", pk=pk), {"url": HOOK + "/x", "events": ["task.created"]}
        ).status_code
        == 404
    )
    assert client_b.post(url("set_active", "bravo", pk=pk), {"active": "0"}).status_code == 404
    assert client_b.post(url("rotate", "bravo", pk=pk)).status_code == 404
    assert client_b.post(url("test", "bravo", pk=pk)).status_code == 404
    assert client_b.post(url("delete", "bravo", pk=pk)).status_code == 404
    redeliver = url("redeliver", "bravo", pk=pk, delivery_pk=delivery.pk)
    assert client_b.post(redeliver).status_code == 404
    listing = client_b.get(url("list", "bravo")).content.decode()
    assert HOOK not in listing
    with tenant_context(org_a.pk):
        endpoint = WebhookEndpoint.objects.get()
        assert WebhookDelivery.objects.count() == 1
    assert (endpoint.url, endpoint.active, endpoint.secret) == (
        HOOK,
        True,
        endpoint_a.secret,
    )


def test_row_level_security_hides_other_organizations_webhooks(
    org_a: Organization, org_b: Organization, endpoint_a: WebhookEndpoint
) -> None:
    with tenant_context(org_a.pk):
        services.webhook_send_test(organization=org_a, actor=None, endpoint=endpoint_a)
    for table in ("webhooks_webhookendpoint", "webhooks_webhookdelivery"):
        with tenant_context(org_b.pk), connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] == 0
            cursor.execute(f"UPDATE {table} SET organization_id = organization_id")
            assert cursor.rowcount == 0
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] == 0
        with tenant_context(org_a.pk), connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] == 1
    with tenant_context(org_b.pk):
        assert WebhookEndpoint.all_tenants.count() == 0


def test_page_queries_do_not_grow_with_the_data(
    client_a: Client,
    org_a: Organization,
    owner_a: User,
    make_endpoint: Callable[..., WebhookEndpoint],
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    first = make_endpoint(org_a, owner_a, HOOK, [events.CUSTOMER_CREATED])
    for count in (4, 12):
        for number in range(count - len(_endpoints(org_a))):
            make_endpoint(org_a, owner_a, f"{HOOK}/{count}/{number}", [events.TASK_CREATED])
        add_deliveries(first, count * 2)
        with django_assert_max_num_queries(7):
            assert client_a.get(url("list")).status_code == 200
        with django_assert_max_num_queries(8):
            assert client_a.get(url("detail", pk=first.pk)).status_code == 200


def _endpoints(organization: Organization) -> list[WebhookEndpoint]:
    with tenant_context(organization.pk):
        return list(WebhookEndpoint.objects.all())
