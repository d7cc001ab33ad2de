"""Events from the real services reach a real HTTP receiver, signed; retries, disabling, no
double delivery, and the guard against private targets in production."""

import datetime
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from crm.celery import app as celery_app
from crm.models import AuditEntry, Organization, User
from crm.tenancy import tenant_context
from crm.webhooks import events, net, services
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from customers import services as customer_services
from interactions import services as interaction_services
from interactions.models import Case, Kind
from tests.webhooks.conftest import Receiver, TaskQueue, queued

pytestmark = pytest.mark.django_db

ALL_EVENTS = sorted(events.EVENTS)


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (the README shows the same code)."""
    timestamp = headers["touchpoint-timestamp"]
    scheme, _, signature = headers["touchpoint-signature"].partition("=")
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - int(timestamp)) <= 300
    return scheme == "v1" and hmac.compare_digest(signature, expected) and fresh


def deliveries(organization: Organization, **filters: Any) -> list[WebhookDelivery]:
    with tenant_context(organization.pk):
        return list(WebhookDelivery.objects.filter(**filters).order_by("id"))


def refreshed(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    with tenant_context(endpoint.organization_id):
        return WebhookEndpoint.objects.get(pk=endpoint.pk)


def test_a_new_customer_reaches_only_the_subscribed_endpoint_signed(
    org_a: Organization,
    org_b: Organization,
    owner_a: User,
    owner_b: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    subscribed = make_endpoint(org_a, owner_a, receiver.url, [events.CUSTOMER_CREATED])
    other_event = make_endpoint(org_a, owner_a, receiver.url + "/tasks", [events.TASK_CREATED])
    other_org = make_endpoint(org_b, owner_b, receiver.url + "/b", [events.CUSTOMER_CREATED])

    with tenant_context(org_a.pk), django_capture_on_commit_callbacks(execute=True):
        customer = customer_services.customer_create(
            organization=org_a, actor=owner_a, name="Ann Lee", emails=["ann@example.test"]
        )
    assert [d.endpoint_id for d in deliveries(org_a)] == [subscribed.pk]
    assert deliveries(org_b) == []
    assert task_queue.run() == ["succeeded"]

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["touchpoint-event"] == "customer.created"
    delivery = deliveries(org_a)[0]
    assert request.headers["touchpoint-delivery"] == str(delivery.pk)
    assert verify_signature(subscribed.secret, request.headers, request.body)
    assert not verify_signature(other_org.secret, request.headers, request.body)
    assert not verify_signature(subscribed.secret, request.headers, request.body + b" ")
    body = json.loads(request.body)
    assert body["event"] == "customer.created"
    assert body["id"] == str(delivery.event_id)
    assert body["organization"] == {"id": org_a.pk, "slug": "acme"}
    assert body["data"]["id"] == customer.pk
    assert body["data"]["name"] == "Ann Lee"
    assert body["data"]["emails"] == ["ann@example.test"]
    assert "search_document" not in body["data"] and "organization_id" not in body["data"]

    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempts == 1 and delivery.last_status_code == 200
    assert delivery.duration_ms is not None and delivery.delivered_at is not None
    assert other_event.pk not in {d.endpoint_id for d in deliveries(org_a)}


def test_every_service_event_is_published(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    endpoint = make_endpoint(org_a, owner_a, receiver.url, ALL_EVENTS)
    with tenant_context(org_a.pk), django_capture_on_commit_callbacks(execute=True):
        ann = customer_services.customer_create(organization=org_a, actor=owner_a, name="Ann")
        ann = customer_services.customer_update(
            customer=ann, organization=org_a, actor=owner_a, city="Lyon"
        )
        # Saving without a change is no event.
        customer_services.customer_update(
            customer=ann, organization=org_a, actor=owner_a, city="Lyon"
        )
        duplicate = customer_services.customer_create(organization=org_a, actor=owner_a, name="A")
        customer_services.customer_merge(
            organization=org_a, actor=owner_a, source=duplicate, target=ann
        )
        call = interaction_services.interaction_log(
            organization=org_a, actor=owner_a, customer=ann, kind=Kind.CALL, subject="Hello"
        )
        case = interaction_services.case_open(
            organization=org_a, actor=owner_a, customer=ann, subject="Broken"
        )
        interaction_services.case_change_status(
            organization=org_a, actor=owner_a, case=case, status=Case.Status.RESOLVED
        )
        interaction_services.case_assign(
            organization=org_a, actor=owner_a, case=case, assignee=owner_a
        )
        task = interaction_services.task_create(
            organization=org_a, actor=owner_a, customer=ann, title="Call back"
        )
        interaction_services.task_complete(organization=org_a, actor=owner_a, task=task)
        interaction_services.task_complete(organization=org_a, actor=owner_a, task=task)
    sent = [d.event for d in deliveries(org_a)]
    assert sent == [
        "customer.created",
        "customer.updated",
        "customer.created",
        "customer.merged",
        "interaction.created",
        "case.created",
        "case.updated",
        "case.updated",
        "task.created",
        "task.completed",
    ]
    assert set(task_queue.run()) == {"succeeded"}
    assert len(receiver.requests) == len(sent)
    bodies = {json.loads(r.body)["event"]: json.loads(r.body)["data"] for r in receiver.requests}
    assert all(verify_signature(endpoint.secret, r.headers, r.body) for r in receiver.requests)
    assert bodies["customer.merged"]["id"] == ann.pk
    assert bodies["customer.merged"]["merged_from_id"] == duplicate.pk
    assert bodies["interaction.created"]["id"] == call.pk
    assert bodies["interaction.created"]["customer_id"] == ann.pk
    assert bodies["case.created"]["number"] == case.number
    assert bodies["case.updated"]["assignee_id"] == owner_a.pk
    assert bodies["task.completed"]["id"] == task.pk
    assert bodies["task.completed"]["done_at"] is not None


def test_nothing_is_sent_when_the_write_rolls_back(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    make_endpoint(org_a, owner_a, receiver.url, [events.CUSTOMER_CREATED])
    with (
        tenant_context(org_a.pk),
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        customer_services.customer_create(organization=org_a, actor=owner_a, name="Gone")
        raise RuntimeError("rolled back")
    assert deliveries(org_a) == []
    assert task_queue.items == []


def test_a_disabled_endpoint_gets_no_new_deliveries(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.CUSTOMER_CREATED])
    with tenant_context(org_a.pk), django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_create(organization=org_a, actor=owner_a, name="Queued")
    with tenant_context(org_a.pk), django_capture_on_commit_callbacks(execute=True):
        services.webhook_endpoint_set_active(
            organization=org_a, actor=owner_a, endpoint=endpoint, active=False
        )
        customer_services.customer_create(organization=org_a, actor=owner_a, name="Later")
    # The one queued before disabling is not sent either.
    assert task_queue.run() == ["failed"]
    assert receiver.requests == []
    [delivery] = deliveries(org_a)
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "disabled" in delivery.last_error


@override_settings(WEBHOOK_MAX_ATTEMPTS=4, WEBHOOK_RETRY_BASE_SECONDS=10, WEBHOOK_RETRY_FACTOR=3)
def test_failures_are_retried_with_exponential_backoff(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    receiver.statuses = [500]
    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.TASK_CREATED])
    with tenant_context(org_a.pk), django_capture_on_commit_callbacks(execute=True):
        services.webhook_send_test(organization=org_a, actor=owner_a, endpoint=endpoint)
    for attempt, wait in [(1, 10), (2, 30), (3, 90)]:
        assert [item.attempt for item in task_queue.items] == [attempt]
        before = timezone.now()
        assert task_queue.run_next() == "retry"
        after = timezone.now()
        [delivery] = deliveries(org_a)
        assert delivery.status == WebhookDelivery.Status.PENDING
        assert delivery.attempts == attempt
        assert delivery.last_status_code == 500
        assert "HTTP 500" in delivery.last_error and "receiver says no" in delivery.last_error
        assert delivery.locked_until is None
        assert delivery.next_attempt_at is not None
        delay = datetime.timedelta(seconds=wait)
        assert before + delay <= delivery.next_attempt_at <= after + delay
        assert task_queue.items[0].eta == delivery.next_attempt_at
        assert task_queue.items[0].attempt == attempt + 1
    assert task_queue.run() == ["failed"]
    [delivery] = deliveries(org_a)
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == 4 and delivery.next_attempt_at is None
    assert len(receiver.requests) == 4
    assert len({r.headers["touchpoint-delivery"] for r in receiver.requests}) == 1
    assert refreshed(endpoint).consecutive_failures == 1


@override_settings(WEBHOOK_MAX_ATTEMPTS=3)
def test_a_success_after_retries_resets_the_failure_count(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
) -> None:
    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.TASK_CREATED])
    with tenant_context(org_a.pk):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=2)
    receiver.statuses = [503, 200]
    with tenant_context(org_a.pk):
        services.webhook_send_test(organization=org_a, actor=owner_a, endpoint=endpoint)
    # Not committed inside the test: enqueue by hand what on_commit would.
    [delivery] = deliveries(org_a)
    task_queue.items.append(queued(delivery))
    assert task_queue.run() == ["retry", "succeeded"]
    delivery = deliveries(org_a)[0]
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED and delivery.attempts == 2
    assert delivery.last_error == "" and delivery.next_attempt_at is None
    assert refreshed(endpoint).consecutive_failures == 0


@override_settings(WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_DISABLE_AFTER=3)
def test_an_endpoint_is_disabled_after_repeated_failed_deliveries(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    receiver.statuses = [500]
    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.CUSTOMER_CREATED])
    for number in range(3):
        with tenant_context(org_a.pk), django_capture_on_commit_callbacks(execute=True):
            customer_services.customer_create(
                organization=org_a, actor=owner_a, name=f"Customer {number}"
            )
        assert task_queue.run() == ["failed"]
        assert refreshed(endpoint).active == (number < 2)
    endpoint = refreshed(endpoint)
    assert endpoint.consecutive_failures == 3
    assert "after 3 deliveries in a row" in endpoint.disabled_reason
    assert "HTTP 500" in endpoint.disabled_reason
    with tenant_context(org_a.pk):
        entry = AuditEntry.objects.filter(
            object_type="webhooks.webhookendpoint",
            action=AuditEntry.Action.UPDATE,
            changes__has_key="active",
        ).get()
    assert entry.actor is None and entry.changes["active"] == [True, False]
    # Disabled: new events make no deliveries; enabling again clears the count.
    with tenant_context(org_a.pk), django_capture_on_commit_callbacks(execute=True):
        customer_services.customer_create(organization=org_a, actor=owner_a, name="Ignored")
    assert len(deliveries(org_a)) == 3 and task_queue.items == []
    with tenant_context(org_a.pk):
        services.webhook_endpoint_set_active(
            organization=org_a, actor=owner_a, endpoint=endpoint, active=True
        )
    endpoint = refreshed(endpoint)
    assert endpoint.active and endpoint.consecutive_failures == 0
    assert endpoint.disabled_reason == ""


def test_a_retried_or_duplicate_task_never_delivers_twice(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
) -> None:
    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.TASK_CREATED])
    with tenant_context(org_a.pk):
        delivery = services.webhook_send_test(organization=org_a, actor=owner_a, endpoint=endpoint)
    task_queue.items.extend([queued(delivery), queued(delivery), queued(delivery, 2)])
    assert task_queue.run() == ["succeeded", "skipped", "skipped"]
    assert len(receiver.requests) == 1


@override_settings(WEBHOOK_MAX_ATTEMPTS=5)
def test_stale_in_flight_and_crashed_attempts(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
) -> None:
    receiver.statuses = [500, 200]
    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.TASK_CREATED])
    with tenant_context(org_a.pk):
        delivery = services.webhook_send_test(organization=org_a, actor=owner_a, endpoint=endpoint)
    task_queue.items.append(queued(delivery))
    assert task_queue.run_next() == "retry"
    # A late copy of attempt 1 is stale: it does not send.
    task_queue.items.insert(0, queued(delivery))
    assert task_queue.run_next() == "skipped"
    assert len(receiver.requests) == 1
    # Attempt 2 in flight elsewhere (claimed, not expired): a duplicate leaves it alone.
    future = timezone.now() + datetime.timedelta(minutes=1)
    with tenant_context(org_a.pk):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=2, locked_until=future)
    assert task_queue.run_next() == "skipped"
    # Its worker died: once the claim expires, the redelivered message sends attempt 2.
    past = timezone.now() - datetime.timedelta(seconds=1)
    with tenant_context(org_a.pk):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=past)
    task_queue.items.append(queued(delivery, 2))
    assert task_queue.run() == ["succeeded"]
    assert len(receiver.requests) == 2
    assert deliveries(org_a)[0].attempts == 2


def test_redelivery_sends_the_same_event_again(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
) -> None:
    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.TASK_CREATED])
    with tenant_context(org_a.pk):
        first = services.webhook_send_test(organization=org_a, actor=owner_a, endpoint=endpoint)
        again = services.webhook_redeliver(organization=org_a, actor=owner_a, delivery=first)
    task_queue.items.extend([queued(first), queued(again)])
    assert task_queue.run() == ["succeeded", "succeeded"]
    one, two = (json.loads(r.body) for r in receiver.requests)
    assert one == two and one["id"] == str(first.event_id)
    assert again.pk != first.pk and again.event_id == first.event_id
    ids = [r.headers["touchpoint-delivery"] for r in receiver.requests]
    assert ids == [str(first.pk), str(again.pk)]
    assert all(verify_signature(endpoint.secret, r.headers, r.body) for r in receiver.requests)


def test_the_celery_task_runs_in_its_tenant_through_the_broker_api(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    make_endpoint: Callable[..., WebhookEndpoint],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    """Unpatched enqueue (apply_async), eager: the real task path end to end."""
    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.CASE_CREATED])
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    try:
        with tenant_context(org_a.pk), django_capture_on_commit_callbacks(execute=True):
            services.webhook_send_test(organization=org_a, actor=owner_a, endpoint=endpoint)
    finally:
        conf.task_always_eager, conf.task_eager_propagates = saved
    assert len(receiver.requests) == 1
    assert deliveries(org_a)[0].status == WebhookDelivery.Status.SUCCEEDED


# --- Server-side request forgery -------------------------------------------------------------

PRODUCTION = {"WEBHOOKS_ALLOW_PRIVATE_TARGETS": False, "WEBHOOKS_REQUIRE_HTTPS": True}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "private or local"),
        ("https://localhost:8443/x", "private or local"),
        ("https://10.1.2.3/x", "private or local"),
        ("https://192.168.0.10/x", "private or local"),
        ("https://169.254.169.254/latest/meta-data", "private or local"),
        ("https://[::1]/x", "private or local"),
        ("https://[::ffff:127.0.0.1]/x", "private or local"),
        ("ftp://example.com/x", "http"),
    ],
)
def test_production_refuses_private_and_plain_http_targets(
    org_a: Organization, owner_a: User, url: str, reason: str
) -> None:
    with override_settings(**PRODUCTION), tenant_context(org_a.pk):
        with pytest.raises(ValidationError) as error:
            services.webhook_endpoint_create(
                organization=org_a, actor=owner_a, url=url, events=[events.CUSTOMER_CREATED]
            )
        assert reason in str(error.value.message_dict["url"])
        assert WebhookEndpoint.objects.count() == 0


def test_production_accepts_a_public_https_target(
    org_a: Organization, owner_a: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def resolve(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "hooks.example.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]

    monkeypatch.setattr(net.socket, "getaddrinfo", resolve)
    with override_settings(**PRODUCTION), tenant_context(org_a.pk):
        endpoint = services.webhook_endpoint_create(
            organization=org_a,
            actor=owner_a,
            url="https://hooks.example.com/touchpoint",
            events=[events.CUSTOMER_CREATED],
        )
    assert endpoint.secret.startswith("whsec_")


def test_production_will_not_send_to_a_private_address_registered_earlier(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
) -> None:
    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.TASK_CREATED])
    with tenant_context(org_a.pk):
        delivery = services.webhook_send_test(organization=org_a, actor=owner_a, endpoint=endpoint)
    task_queue.items.append(queued(delivery))
    with override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False, WEBHOOKS_REQUIRE_HTTPS=False):
        assert task_queue.run_next() == "retry"
    assert receiver.requests == []
    assert "private or local" in deliveries(org_a)[0].last_error


def test_the_connection_itself_refuses_a_private_peer(receiver: Receiver) -> None:
    """Even when DNS said "public" at check time, the connected address is checked again."""
    with override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False):
        result = net.post_json(receiver.url, b"{}", {"Content-Type": "application/json"}, 2)
    assert not result.ok and result.status_code is None
    assert "non-public address 127.0.0.1" in result.error
    assert receiver.requests == []


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.statuses = [302]
    result = net.post_json(receiver.url, b"{}", {"Content-Type": "application/json"}, 2)
    assert not result.ok and result.status_code == 302
    assert len(receiver.requests) == 1


def test_the_sweeper_requeues_attempts_whose_message_was_lost_and_never_sends_twice(
    org_a: Organization,
    owner_a: User,
    org_b: Organization,
    owner_b: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
) -> None:
    from crm.webhooks.tasks import requeue_overdue_webhook_deliveries

    receiver.statuses = [500, 200, 200]
    endpoint_a = make_endpoint(org_a, owner_a, receiver.url, [events.TASK_CREATED])
    endpoint_b = make_endpoint(org_b, owner_b, receiver.url, [events.TASK_CREATED])
    with tenant_context(org_a.pk):
        lost = services.webhook_send_test(organization=org_a, actor=owner_a, endpoint=endpoint_a)
    with tenant_context(org_b.pk):
        lost_b = services.webhook_send_test(organization=org_b, actor=owner_b, endpoint=endpoint_b)
    task_queue.items.clear()  # the broker was down when they committed: no message exists
    # Not yet overdue: the sweeper leaves fresh deliveries to their own messages.
    assert requeue_overdue_webhook_deliveries() == 0
    long_ago = timezone.now() - datetime.timedelta(minutes=3)
    for organization, delivery in ((org_a, lost), (org_b, lost_b)):
        with tenant_context(organization.pk):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=long_ago)

    # Each organization's overdue delivery is queued again, inside its own tenant.
    assert requeue_overdue_webhook_deliveries() == 2
    assert sorted(
        (q.organization_id, q.delivery_id, q.attempt) for q in task_queue.items
    ) == sorted([(org_a.pk, lost.pk, 1), (org_b.pk, lost_b.pk, 1)])
    # Org A's first attempt gets a 500, org B's goes through.
    assert [task_queue.run_next(), task_queue.run_next()] == ["retry", "succeeded"]
    (a,) = deliveries(org_a)
    assert (a.status, a.attempts) == ("pending", 1) and a.next_attempt_at is not None
    assert [(q.delivery_id, q.attempt) for q in task_queue.items] == [(a.pk, 2)]
    task_queue.items.clear()  # the retry's message is lost too (say, Redis restarted)

    # The sweeper queues attempt 2 once it is overdue.
    assert requeue_overdue_webhook_deliveries() == 0
    with tenant_context(org_a.pk):
        WebhookDelivery.objects.filter(pk=a.pk).update(next_attempt_at=long_ago)
    assert requeue_overdue_webhook_deliveries() == 1
    assert [(q.delivery_id, q.attempt) for q in task_queue.items] == [(a.pk, 2)]
    # The original retry message turns up late as well: exactly one of the two sends.
    task_queue.items.append(queued(a, 2))
    assert sorted(task_queue.run()) == ["skipped", "succeeded"]
    assert len(receiver.requests) == 3
    assert [d.status for d in deliveries(org_a) + deliveries(org_b)] == ["succeeded"] * 2
    assert requeue_overdue_webhook_deliveries() == 0


def test_the_sweeper_takes_over_an_attempt_whose_worker_died(
    org_a: Organization,
    owner_a: User,
    receiver: Receiver,
    task_queue: TaskQueue,
    make_endpoint: Callable[..., WebhookEndpoint],
) -> None:
    from crm.webhooks.tasks import requeue_overdue_webhook_deliveries

    endpoint = make_endpoint(org_a, owner_a, receiver.url, [events.TASK_CREATED])
    with tenant_context(org_a.pk):
        delivery = services.webhook_send_test(organization=org_a, actor=owner_a, endpoint=endpoint)
    task_queue.items.clear()
    # Attempt 1 was claimed by a worker that was killed (SIGKILL) before it recorded anything.
    expired = timezone.now() - datetime.timedelta(minutes=3)
    with tenant_context(org_a.pk):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=1, locked_until=expired)
    assert requeue_overdue_webhook_deliveries() == 1
    assert [(q.delivery_id, q.attempt) for q in task_queue.items] == [(delivery.pk, 1)]
    assert task_queue.run() == ["succeeded"]
    assert len(receiver.requests) == 1
    assert (deliveries(org_a)[0].status, deliveries(org_a)[0].attempts) == ("succeeded", 1)
