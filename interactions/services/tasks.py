"""Follow-up tasks: created (optionally from an interaction), edited, completed, reopened,
deleted."""

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from crm.models import Membership, Organization, User
from crm.services import audit_create, audit_delete, audit_snapshot, audit_update
from crm.webhooks import events as webhook_events
from crm.webhooks.services import webhook_data, webhook_event_publish
from customers.models import Customer
from interactions.models import (
    Interaction,
    Task,
)
from interactions.services.common import check_customer, check_length, check_member

# What task_update may change; the customer (and the interaction it came from) stay.
TASK_EDITABLE_FIELDS = ("title", "due_date", "assignee")


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
    _check_title(errors, title)
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


def _check_title(errors: dict[str, str], title: str) -> None:
    if not title:
        errors["title"] = "Say what needs doing."
    check_length(errors, "title", title, 200)


def _check_own(organization: Organization, task: Task) -> None:
    if task.organization_id != organization.pk:
        raise ValidationError({"task": "Choose a task of this organization."})


def task_update(
    *, organization: Organization, actor: User | None, task: Task, **fields: Any
) -> Task:
    """Change what is given of title, due_date and assignee; audited (no webhook event: the
    published events have no "task updated", and completing has its own service).

    The assignee is checked only when it changes, so re-sending a former member who still holds
    the task is not an error. Any other field (e.g. the customer) is refused, naming it.
    """
    fixed = sorted(set(fields) - set(TASK_EDITABLE_FIELDS))
    if fixed:
        raise ValidationError(dict.fromkeys(fixed, "This cannot change after the task is created."))
    _check_own(organization, task)
    errors: dict[str, str] = {}
    if "title" in fields:
        fields["title"] = str(fields["title"] or "").strip()
        _check_title(errors, fields["title"])
    due_date = fields.get("due_date")
    if due_date is not None and not isinstance(due_date, datetime.date):
        errors["due_date"] = "Give a date (YYYY-MM-DD) or nothing."
    assignee = fields.get("assignee")
    if "assignee" in fields and (assignee.pk if assignee else None) != task.assignee_id:
        errors.update(check_member(organization, assignee, "assignee", "tasks.change"))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(organization=organization, pk=task.pk)
        before = audit_snapshot(locked, fields)
        for name, value in fields.items():
            setattr(locked, name, value)
        changes = audit_update(
            organization=organization, actor=actor, instance=locked, before=before
        )
        if changes:
            locked.save(update_fields=list(changes))
    return locked


def task_may_delete(*, membership: Membership | None, task: Task) -> bool:
    """Leads delete any task; other staff who work on tasks only their own (assigned to or
    created by them), so nobody silently drops a follow-up someone else is counting on."""
    if membership is None or not membership.is_active:
        return False
    if membership.has_permission("tasks.delete"):
        return True
    return membership.has_permission("tasks.change") and membership.user_id in (
        task.assignee_id,
        task.created_by_id,
    )


def task_delete(*, organization: Organization, actor: User | None, task: Task) -> None:
    """Delete a task (see task_may_delete for who may); audited. `actor=None` is the system."""
    _check_own(organization, task)
    if actor is not None:
        membership = Membership.objects.filter(organization=organization, user_id=actor.pk).first()
        if not task_may_delete(membership=membership, task=task):
            raise PermissionDenied(
                "Only owners, admins and managers delete other people's tasks; "
                "you may delete the ones assigned to you or created by you."
            )
    with transaction.atomic():
        audit_delete(organization=organization, actor=actor, instance=task)
        task.delete()


def _set_task_done(
    organization: Organization, actor: User | None, task: Task, done_at: datetime.datetime | None
) -> Task:
    _check_own(organization, task)
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
