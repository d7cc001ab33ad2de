"""Services that edit and delete tasks and edit cases: rules, audit, timeline, webhook events."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.models import AuditEntry, Organization, User
from crm.permissions import Role
from crm.webhooks import events as webhook_events
from interactions import services
from interactions.models import Case, Interaction, Task
from tests.factories import make_member
from tests.interactions.helpers import add_customer, add_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The webhook events the services publish (captured instead of queued)."""
    events: list[str] = []

    def record(*, organization: Organization, event: str, payload: dict) -> None:  # type: ignore[type-arg]
        events.append(event)

    for module in ("cases", "tasks"):
        monkeypatch.setattr(f"interactions.services.{module}.webhook_event_publish", record)
    return events


def audits(instance: object, action: str) -> list[dict]:  # type: ignore[type-arg]
    return list(
        AuditEntry.objects.filter(
            object_type=instance._meta.label_lower,  # type: ignore[attr-defined]
            object_id=str(instance.pk),  # type: ignore[attr-defined]
            action=action,
        )
        .order_by("id")
        .values_list("changes", flat=True)
    )


def test_task_update_changes_only_what_is_given(
    in_org_a: Organization, owner_a: User, published: list[str]
) -> None:
    ann = add_customer(in_org_a, "Ann")
    task = add_task(ann, title="Call back", assignee=owner_a, due_date=datetime.date(2026, 1, 5))
    updated = services.task_update(
        organization=in_org_a, actor=owner_a, task=task, title=" Ring Ann "
    )
    assert (updated.title, updated.due_date, updated.assignee_id) == (
        "Ring Ann",
        datetime.date(2026, 1, 5),
        owner_a.pk,
    )
    assert audits(task, AuditEntry.Action.UPDATE) == [{"title": ["Call back", "Ring Ann"]}]
    services.task_update(organization=in_org_a, actor=owner_a, task=updated, title="Ring Ann")
    assert len(audits(task, AuditEntry.Action.UPDATE)) == 1  # nothing changed, nothing written
    assert published == []  # no "task updated" event exists


def test_task_update_refuses_the_customer_and_bad_values(
    in_org_a: Organization, org_b: Organization, owner_a: User
) -> None:
    ann = add_customer(in_org_a, "Ann")
    task = add_task(ann, title="Call back")
    with pytest.raises(ValidationError) as customer_error:
        services.task_update(
            organization=in_org_a, actor=owner_a, task=task, customer=add_customer(in_org_a, "B")
        )
    assert list(customer_error.value.message_dict) == ["customer"]
    viewer = make_member(in_org_a, Role.VIEWER)
    outsider = make_member(org_b, Role.SALES)
    with pytest.raises(ValidationError) as errors:
        services.task_update(
            organization=in_org_a,
            actor=owner_a,
            task=task,
            title="",
            due_date="soon",
            assignee=viewer,
        )
    assert set(errors.value.message_dict) == {"title", "due_date", "assignee"}
    with pytest.raises(ValidationError) as outside:
        services.task_update(organization=in_org_a, actor=owner_a, task=task, assignee=outsider)
    assert "active member" in outside.value.message_dict["assignee"][0]
    assert Task.objects.get(pk=task.pk).title == "Call back"
    assert audits(task, AuditEntry.Action.UPDATE) == []


def test_task_delete_rules(in_org_a: Organization, owner_a: User) -> None:
    ann = add_customer(in_org_a, "Ann")
    seller = make_member(in_org_a, Role.SALES)
    others = add_task(ann, title="Others", assignee=owner_a, created_by=owner_a)
    with pytest.raises(PermissionDenied):
        services.task_delete(organization=in_org_a, actor=seller, task=others)
    mine = add_task(ann, title="Mine", created_by=seller)
    services.task_delete(organization=in_org_a, actor=seller, task=mine)
    others_pk = others.pk
    services.task_delete(organization=in_org_a, actor=None, task=others)  # a system job
    assert not Task.objects.exists()
    deleted = audits(Task(pk=others_pk), AuditEntry.Action.DELETE)
    assert [entry["title"] for entry in deleted] == [["Others", None]]


def test_case_update_moves_the_due_time_of_an_open_case_and_notes_the_priority(
    in_org_a: Organization, owner_a: User, published: list[str]
) -> None:
    ann = add_customer(in_org_a, "Ann")
    case = services.case_open(organization=in_org_a, actor=owner_a, customer=ann, subject="Zip")
    published.clear()
    case = services.case_update(
        organization=in_org_a, actor=owner_a, case=case, priority=Case.Priority.LOW
    )
    assert case.due_at == case.created_at + datetime.timedelta(hours=168)
    assert published == [webhook_events.CASE_UPDATED]
    entry = Interaction.objects.filter(case=case).order_by("-id").first()
    assert entry is not None and entry.subject == f"Case #{case.number} priority: Normal → Low"
    assert entry.metadata["priority_to"] == "low"
    services.case_update(organization=in_org_a, actor=owner_a, case=case, priority="low")
    assert published == [webhook_events.CASE_UPDATED]  # unchanged: no event, no entry
    assert Interaction.objects.filter(case=case).count() == 2


def test_a_resolved_case_keeps_its_due_time_and_text_edits_are_only_audited(
    in_org_a: Organization, owner_a: User, published: list[str]
) -> None:
    ann = add_customer(in_org_a, "Ann")
    case = services.case_open(organization=in_org_a, actor=owner_a, customer=ann, subject="Zip")
    case = services.case_change_status(
        organization=in_org_a, actor=owner_a, case=case, status="resolved"
    )
    due = case.due_at
    entries = Interaction.objects.filter(case=case).count()
    case = services.case_update(
        organization=in_org_a,
        actor=owner_a,
        case=case,
        subject="Zip broken",
        description="Details",
        priority="urgent",
    )
    assert (case.subject, case.description, case.priority, case.due_at) == (
        "Zip broken",
        "Details",
        "urgent",
        due,
    )
    changes = audits(case, AuditEntry.Action.UPDATE)[-1]
    assert set(changes) == {"subject", "description", "priority", "updated_at"}
    assert Interaction.objects.filter(case=case).count() == entries + 1  # the priority only
    with pytest.raises(ValidationError) as errors:
        services.case_update(
            organization=in_org_a, actor=owner_a, case=case, subject=" ", priority="soon"
        )
    assert set(errors.value.message_dict) == {"subject", "priority"}
    assert Case.objects.get(pk=case.pk).subject == "Zip broken"
