"""Service cases: numbering, due times, edits, assignment and status, changes on the timeline."""

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from crm.models import Organization, User
from crm.services import audit_create, audit_diff, audit_snapshot, audit_update
from crm.webhooks import events as webhook_events
from crm.webhooks.services import webhook_data, webhook_event_publish
from customers.models import Customer
from interactions.models import (
    DEFAULT_CASE_DUE_HOURS,
    Case,
    CaseCounter,
    Channel,
    Direction,
    Interaction,
    Kind,
)
from interactions.services.common import (
    check_choice,
    check_customer,
    check_length,
    check_member,
)


def case_due_hours(priority: str) -> int:
    """Hours from opening to the due time of a case of this priority (settings may override)."""
    targets = {**DEFAULT_CASE_DUE_HOURS, **getattr(settings, "INTERACTIONS_CASE_DUE_HOURS", {})}
    return int(targets[priority])


def _allocate_case_number(organization: Organization) -> int:
    """The organization's next case number; the counter row stays locked until commit."""
    table = CaseCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO "{table}" (organization_id, last_number) VALUES (%s, 1)
            ON CONFLICT (organization_id)
            DO UPDATE SET last_number = "{table}".last_number + 1
            RETURNING last_number
            """,  # noqa: S608 - the table name is the model's, not input
            [organization.pk],
        )
        row = cursor.fetchone()
    return int(row[0])


def _case_timeline_entry(
    *, organization: Organization, actor: User | None, case: Case, subject: str, **metadata: Any
) -> Interaction:
    return Interaction.objects.create(
        organization=organization,
        customer_id=case.customer_id,
        kind=Kind.CASE_UPDATE,
        channel=Channel.OTHER,
        direction=Direction.NONE,
        occurred_at=timezone.now(),
        user=actor,
        subject=subject[:200],
        case=case,
        metadata={"case_number": case.number, **metadata},
    )


class _Unset:
    """A keyword left out (None is a value some fields could take)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
# What case_update may change (assignee and status have their own services).
CASE_EDITABLE_FIELDS = ("subject", "description", "priority")


def _case_due_at(opened_at: datetime.datetime, priority: str) -> datetime.datetime:
    return opened_at + datetime.timedelta(hours=case_due_hours(priority))


def _check_subject(errors: dict[str, str], subject: str) -> None:
    if not subject:
        errors["subject"] = "Say what the case is about."
    check_length(errors, "subject", subject, 200)


def case_open(
    *,
    organization: Organization,
    actor: User | None,
    customer: Customer,
    subject: str,
    description: str = "",
    priority: str = Case.Priority.NORMAL,
    assignee: User | None = None,
    interaction: Interaction | None = None,
) -> Case:
    """Open a service case for a customer, numbered and due by its priority's target.

    `interaction` (e.g. the complaint that prompted it) is attached to the case.
    """
    subject = subject.strip()
    errors = check_customer(organization, customer)
    _check_subject(errors, subject)
    check_choice(errors, "priority", priority, Case.Priority)
    errors.update(check_member(organization, assignee, "assignee", "cases.change"))
    if interaction is not None and (
        interaction.organization_id != organization.pk or interaction.customer_id != customer.pk
    ):
        errors["interaction"] = "Choose an interaction of this customer."
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.create(
            organization=organization,
            number=_allocate_case_number(organization),
            customer=customer,
            subject=subject,
            description=description,
            priority=priority,
            assignee=assignee,
            opened_by=actor,
            due_at=_case_due_at(now, priority),
            created_at=now,
            updated_at=now,
        )
        audit_create(organization=organization, actor=actor, instance=case)
        if interaction is not None:
            interaction.case = case
            interaction.save(update_fields=["case"])
        _case_timeline_entry(
            organization=organization,
            actor=actor,
            case=case,
            subject=f"Case #{case.number} opened: {subject}",
            change="opened",
            priority=priority,
            assignee=assignee.display_name if assignee else None,
        )
        webhook_event_publish(
            organization=organization, event=webhook_events.CASE_CREATED, payload=webhook_data(case)
        )
    return case


def _locked_case(organization: Organization, case: Case) -> Case:
    if case.organization_id != organization.pk:
        raise ValidationError({"case": "Choose a case of this organization."})
    return Case.objects.select_for_update().get(organization=organization, pk=case.pk)


def case_update(
    *,
    organization: Organization,
    actor: User | None,
    case: Case,
    subject: str = UNSET,
    description: str = UNSET,
    priority: str = UNSET,
) -> Case:
    """Edit what is given of subject, description and priority; audited, `case.updated` sent.

    A new priority moves the due time to the opening time plus that priority's target, unless
    the case is already resolved or closed (its due time is history then), and is noted on the
    timeline like assignment and status changes. Text edits are only audited.
    """
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    if subject is not UNSET:
        fields["subject"] = str(subject or "").strip()
        _check_subject(errors, fields["subject"])
    if description is not UNSET:
        fields["description"] = str(description or "")
    if priority is not UNSET:
        fields["priority"] = priority
        check_choice(errors, "priority", priority, Case.Priority)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = _locked_case(organization, case)
        old_priority_label = locked.get_priority_display()
        before = audit_snapshot(locked, [*fields, "due_at", "updated_at"])
        for name, value in fields.items():
            setattr(locked, name, value)
        priority_changed = locked.priority != before["priority"] if "priority" in fields else False
        if priority_changed and locked.is_open:
            locked.due_at = _case_due_at(locked.created_at, locked.priority)
        if not audit_diff(before, audit_snapshot(locked, before)):
            return locked
        locked.updated_at = timezone.now()
        changes = audit_update(
            organization=organization, actor=actor, instance=locked, before=before
        )
        locked.save(update_fields=list(changes))
        if priority_changed:
            _case_timeline_entry(
                organization=organization,
                actor=actor,
                case=locked,
                subject=(
                    f"Case #{locked.number} priority: {old_priority_label} → "
                    f"{locked.get_priority_display()}"
                ),
                change="priority",
                priority_from=before["priority"],
                priority_to=locked.priority,
            )
        webhook_event_publish(
            organization=organization,
            event=webhook_events.CASE_UPDATED,
            payload=webhook_data(locked),
        )
    return locked


def case_assign(
    *, organization: Organization, actor: User | None, case: Case, assignee: User | None
) -> Case:
    """Give the case to a member (or to nobody); noted on the timeline and audited."""
    errors = check_member(organization, assignee, "assignee", "cases.change")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = _locked_case(organization, case)
        if locked.assignee_id == (assignee.pk if assignee else None):
            return locked
        before = audit_snapshot(locked, ["assignee", "updated_at"])
        locked.assignee = assignee
        locked.updated_at = timezone.now()
        locked.save(update_fields=["assignee", "updated_at"])
        audit_update(organization=organization, actor=actor, instance=locked, before=before)
        name = assignee.display_name if assignee else None
        _case_timeline_entry(
            organization=organization,
            actor=actor,
            case=locked,
            subject=(
                f"Case #{locked.number} assigned to {name}"
                if name
                else f"Case #{locked.number} unassigned"
            ),
            change="assignee",
            assignee=name,
        )
        webhook_event_publish(
            organization=organization,
            event=webhook_events.CASE_UPDATED,
            payload=webhook_data(locked),
        )
    return locked


def case_change_status(
    *, organization: Organization, actor: User | None, case: Case, status: str
) -> Case:
    """Move the case to another status; noted on the timeline and audited.

    Resolving or closing records when it was resolved; reopening clears it.
    """
    errors: dict[str, str] = {}
    check_choice(errors, "status", status, Case.Status)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = _locked_case(organization, case)
        if locked.status == status:
            return locked
        before = audit_snapshot(locked, ["status", "resolved_at", "updated_at"])
        old_label = locked.get_status_display()
        now = timezone.now()
        locked.status = status
        if status in Case.OPEN_STATUSES:
            locked.resolved_at = None
        elif locked.resolved_at is None:
            locked.resolved_at = now
        locked.updated_at = now
        locked.save(update_fields=["status", "resolved_at", "updated_at"])
        audit_update(organization=organization, actor=actor, instance=locked, before=before)
        _case_timeline_entry(
            organization=organization,
            actor=actor,
            case=locked,
            subject=f"Case #{locked.number}: {old_label} → {locked.get_status_display()}",
            change="status",
            status_from=before["status"],
            status_to=status,
        )
        webhook_event_publish(
            organization=organization,
            event=webhook_events.CASE_UPDATED,
            payload=webhook_data(locked),
        )
    return locked
