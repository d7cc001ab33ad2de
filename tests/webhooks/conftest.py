"""Webhook test harness: a real HTTP receiver on 127.0.0.1 and a recording task queue.

The receiver is http.server in a thread on a random port; it records every request and answers
with the statuses a test sets. The queue replaces the Celery enqueue (crm.webhooks.services._enqueue)
with a list, so tests run each queued attempt themselves, through the real task function, and can
inspect when a retry was scheduled.
"""

import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from crm.models import Organization, User
from crm.tenancy import tenant_context
from crm.webhooks import services
from crm.webhooks.models import WebhookDelivery, WebhookEndpoint
from crm.webhooks.tasks import deliver_webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # Statuses to answer with, in order; the last one repeats.
    statuses: list[int] = field(default_factory=lambda: [200])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state.lock:
                state.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            status = state.next_status()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 400 else b"receiver says no")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@dataclass
class Queued:
    organization_id: int
    delivery_id: int
    attempt: int
    eta: Any


def queued(delivery: WebhookDelivery, attempt: int = 1) -> Queued:
    """The task message for a delivery made inside a test (whose on_commit never runs)."""
    return Queued(delivery.organization_id, delivery.pk, attempt, None)


@dataclass
class TaskQueue:
    # Runs a block as if it committed (a worker runs in autocommit; tests in a transaction).
    committing: Callable[..., Any]
    items: list[Queued] = field(default_factory=list)

    def run(self) -> list[str]:
        """Run every queued attempt (and the retries they queue) until the queue is empty."""
        results = []
        while self.items:
            results.append(self.run_next())
        return results

    def run_next(self) -> str:
        item = self.items.pop(0)
        with self.committing(execute=True):
            return str(
                deliver_webhook(
                    organization_id=item.organization_id,
                    delivery_id=item.delivery_id,
                    attempt=item.attempt,
                )
            )


@pytest.fixture
def task_queue(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Callable[..., Any]
) -> TaskQueue:
    queue = TaskQueue(committing=django_capture_on_commit_callbacks)

    def enqueue(*, organization_id: int, delivery_id: int, attempt: int, eta: Any = None) -> None:
        queue.items.append(Queued(organization_id, delivery_id, attempt, eta))

    monkeypatch.setattr(services, "_enqueue", enqueue)
    return queue


@pytest.fixture
def make_endpoint() -> Callable[..., WebhookEndpoint]:
    def make(
        organization: Organization, actor: User | None, url: str, events: list[str], **fields: Any
    ) -> WebhookEndpoint:
        with tenant_context(organization.pk):
            return services.webhook_endpoint_create(
                organization=organization, actor=actor, url=url, events=events, **fields
            )

    return make
