"""Follow-up tasks: created (optionally from an interaction), completed, reopened."""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.models import Organization, User
from crm.services import audit_create, audit_snapshot, audit_update
from crm.webhooks import events as webhook_events
from crm.webhooks.services import webhook_data, webhook_event_publish
from customers.models import Customer
from interactions.models import (
    Interaction,
    Task,
)
from interactions.services.common import check_customer, check_length, check_member


def task_create(
    *,
    organization: Organization,
    actor: User | None,
    customer: Customer,
    title: str,
    due_date: datetime.date | None = None,
    assignee: User | None = None,
    interaction: Interaction | None = None,
) -> Task:
    """Create a follow-up for a customer, optionally from one of the customer's interactions."""
    title = title.strip()
    errors = check_customer(organization, customer)
    if not title:
        errors["title"] = "Say what needs doing."
    check_length(errors, "title", title, 200)
    errors.update(check_member(organization, assignee, "assignee", "tasks.change"))
    if interaction is not None and (
        interaction.organization_id != organization.pk or interaction.customer_id != customer.pk
    ):
        errors["interaction"] = "Choose an interaction of this customer."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        task = Task.objects.create(
            organization=organization,
            title=title,
            customer=customer,
            assignee=assignee,
            due_date=due_date,
            interaction=interaction,
            created_by=actor,
        )
        audit_create(organization=organization, actor=actor, instance=task)
        webhook_event_publish(
            organization=organization, event=webhook_events.TASK_CREATED, payload=webhook_data(task)
        )
    return task


def _set_task_done(
    organization: Organization, actor: User | None, task: Task, done_at: datetime.datetime | None
) -> Task:
    if task.organization_id != organization.pk:
        raise ValidationError({"task": "Choose a task of this organization."})
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(organization=organization, pk=task.pk)
        if (locked.done_at is None) == (done_at is None):
            return locked
        before = audit_snapshot(locked, ["done_at"])
        locked.done_at = done_at
        locked.save(update_fields=["done_at"])
        audit_update(organization=organization, actor=actor, instance=locked, before=before)
        if done_at is not None:
            webhook_event_publish(
                organization=organization,
                event=webhook_events.TASK_COMPLETED,
                payload=webhook_data(locked),
            )
    return locked


def task_complete(*, organization: Organization, actor: User | None, task: Task) -> Task:
    """Mark a task done (doing it twice keeps the first time)."""
    return _set_task_done(organization, actor, task, timezone.now())


def task_reopen(*, organization: Organization, actor: User | None, task: Task) -> Task:
    """Undo marking a task done."""
    return _set_task_done(organization, actor, task, None)
