"""Celery tasks run inside their tenant: TenantTask itself, and a real worker on the real broker."""

import os
import queue
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail

from crm import tenancy
from crm.celery import TenantTask
from crm.celery import app as celery_app
from crm.models import Invitation, Organization, User
from crm.permissions import Role
from crm.services import invitation_create
from crm.tasks import send_invitation_email
from crm.tenancy import tenant_context
from tests.factories import make_member, make_organization

BASE_URL = "http://testserver/"


@celery_app.task(base=TenantTask, name="tests.crm.tenant_probe", shared=False)
def tenant_probe(*, organization_id: int, fail: bool = False) -> int | None:
    if fail:
        raise RuntimeError("task failed")
    return tenancy.current_organization_id()


# --- TenantTask, called in-process ----------------------------------------------------------------


def test_tenant_task_refuses_a_call_without_organization_id() -> None:
    with pytest.raises(TypeError, match="organization_id"):
        tenant_probe()
    with pytest.raises(TypeError, match="organization_id"):
        send_invitation_email(invitation_id=1, token="x", base_url=BASE_URL)


def test_tenant_task_sets_the_tenant_and_clears_it_after() -> None:
    assert tenancy.current_organization_id() is None
    assert tenant_probe(organization_id=7) == 7
    assert tenancy.current_organization_id() is None
    with pytest.raises(RuntimeError):
        tenant_probe(organization_id=8, fail=True)
    assert tenancy.current_organization_id() is None
    # Inside another tenant's block the task still runs as its own, and the block's is restored.
    with tenant_context(3):
        assert tenant_probe(organization_id=9) == 9
        assert tenancy.current_organization_id() == 3


def invite(organization: Organization, owner: User, email: str) -> tuple[Invitation, str]:
    with tenant_context(organization.pk):
        return invitation_create(
            organization=organization, actor=owner, email=email, role=Role.SALES, base_url=BASE_URL
        )


@pytest.mark.django_db
def test_the_invitation_task_finds_only_its_tenants_invitation() -> None:
    acme, bravo = make_organization(slug="acme"), make_organization(slug="bravo")
    owner_a, owner_b = make_member(acme, Role.OWNER), make_member(bravo, Role.OWNER)
    invitation_a, token_a = invite(acme, owner_a, "ann@example.test")
    invitation_b, token_b = invite(bravo, owner_b, "bob@example.test")
    assert mail.outbox == []  # not committed in this test: nothing was enqueued

    wrong_tenant = send_invitation_email(
        organization_id=acme.pk, invitation_id=invitation_b.pk, token=token_b, base_url=BASE_URL
    )
    wrong_token = send_invitation_email(
        organization_id=acme.pk, invitation_id=invitation_a.pk, token=token_b, base_url=BASE_URL
    )
    assert (wrong_tenant, wrong_token) == ("missing", "bad-token")
    assert mail.outbox == []
    assert (
        send_invitation_email(
            organization_id=acme.pk, invitation_id=invitation_a.pk, token=token_a, base_url=BASE_URL
        )
        == "sent"
    )
    [message] = mail.outbox
    assert message.to == ["ann@example.test"]
    assert f"{BASE_URL}acme/invitations/{token_a}/" in message.body


# --- A real worker thread on the real Redis broker ----------------------------------------------


@pytest.fixture
def worker_queue() -> Iterator[str]:
    """A queue of this test's own, so parallel test runs (and a dev worker) never take its tasks."""
    conf = celery_app.conf
    name = f"tp-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    keys = ("task_default_queue", "task_always_eager", "worker_hijack_root_logger")
    saved = {key: conf[key] for key in keys}
    conf.update(task_default_queue=name, task_always_eager=False, worker_hijack_root_logger=False)
    try:
        yield name
    finally:
        conf.update(saved)
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_delete(name)
            client = connection.default_channel.client
            leftovers = list(client.scan_iter(f"*{name}*"))  # kombu's binding sets
            if leftovers:
                client.delete(*leftovers)


@pytest.fixture
def finished_tasks() -> Iterator["queue.Queue[tuple[str, Any, str]]"]:
    """(task id, return value, state) of each task the worker finishes, to wait on (no sleeps)."""
    finished: queue.Queue[tuple[str, Any, str]] = queue.Queue()

    def on_postrun(task_id: str, retval: Any, state: str, **kwargs: Any) -> None:
        finished.put((task_id, retval, state))

    task_postrun.connect(on_postrun, weak=False)
    try:
        yield finished
    finally:
        task_postrun.disconnect(on_postrun)


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_a_real_worker_runs_each_invitation_task_in_its_own_tenant(
    transactional_db: None,
    worker_queue: str,
    finished_tasks: "queue.Queue[tuple[str, Any, str]]",
) -> None:
    acme = make_organization(name="Acme Retail", slug="acme")
    bravo = make_organization(name="Bravo Stores", slug="bravo")
    owner_a, owner_b = make_member(acme, Role.OWNER), make_member(bravo, Role.OWNER)
    # Committed for real: each invitation's task goes to the broker when its transaction commits.
    _invitation_a, token_a = invite(acme, owner_a, "ann@example.test")
    invitation_b, token_b = invite(bravo, owner_b, "bob@example.test")

    with start_worker(
        celery_app,
        pool="solo",
        perform_ping_check=False,
        queues=[worker_queue],
        loglevel="WARNING",
        shutdown_timeout=30,
    ):
        # Acme's tenant asking for Bravo's invitation (even with its real token).
        cross = send_invitation_email.apply_async(
            kwargs={
                "organization_id": acme.pk,
                "invitation_id": invitation_b.pk,
                "token": token_b,
                "base_url": BASE_URL,
            }
        )
        outcomes = {}
        for _ in range(3):
            task_id, retval, state = finished_tasks.get(timeout=60)
            outcomes[task_id] = (retval, state)

    assert outcomes.pop(cross.id) == ("missing", "SUCCESS")
    assert sorted(outcomes.values()) == [("sent", "SUCCESS"), ("sent", "SUCCESS")]
    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert set(bodies) == {"ann@example.test", "bob@example.test"}  # B's mail sent once
    assert f"{BASE_URL}acme/invitations/{token_a}/" in bodies["ann@example.test"]
    assert f"{BASE_URL}bravo/invitations/{token_b}/" in bodies["bob@example.test"]
    assert "Bravo Stores" in bodies["bob@example.test"]
