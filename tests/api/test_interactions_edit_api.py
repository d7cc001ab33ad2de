"""Editing and deleting tasks, editing cases over the API (through the services)."""

import datetime

import pytest

from crm.models import AuditEntry
from crm.permissions import Role
from crm.tenancy import tenant_context
from interactions import services
from interactions.models import Case, Interaction, Task
from tests.api.helpers import API, key_client, make_key
from tests.factories import make_member
from tests.interactions.helpers import add_customer, add_task

pytestmark = pytest.mark.django_db


def fields_of(response):
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def reload(organization, model, pk):
    with tenant_context(organization.pk):
        return model.objects.get(pk=pk)


def audit_of(organization, instance, action):
    with tenant_context(organization.pk):
        return list(
            AuditEntry.objects.filter(
                object_type=instance._meta.label_lower, object_id=str(instance.pk), action=action
            ).values_list("changes", flat=True)
        )


def open_case(organization, actor, customer, **fields):
    with tenant_context(organization.pk):
        return services.case_open(
            organization=organization, actor=actor, customer=customer, subject="Broken", **fields
        )


def key_of(organization, role):
    user = make_member(organization, role)
    return user, key_client(make_key(organization, user)[1])


def test_a_task_is_edited_and_the_edit_audited(api_a, org_a, owner_a):
    ann = add_customer(org_a, "Ann")
    agent = make_member(org_a, Role.SERVICE)
    task = add_task(ann, title="Call back", assignee=owner_a)
    url = API + f"tasks/{task.pk}/"
    response = api_a.patch(
        url,
        {"title": "  Call back about the refund ", "due_date": "2026-03-02", "assignee": agent.pk},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["due_date"], body["assignee"]) == (
        "Call back about the refund",
        "2026-03-02",
        agent.pk,
    )
    assert audit_of(org_a, task, AuditEntry.Action.UPDATE) == [
        {
            "title": ["Call back", "Call back about the refund"],
            "due_date": [None, "2026-03-02"],
            "assignee": [owner_a.pk, agent.pk],
        }
    ]
    put = api_a.put(
        url,
        {"customer": ann.pk, "title": "Send the form", "due_date": None, "done": True},
        format="json",
    )
    assert put.status_code == 200, put.content
    stored = reload(org_a, Task, task.pk)
    assert (stored.title, stored.due_date, stored.assignee_id) == ("Send the form", None, agent.pk)
    assert stored.done_at is not None


def test_task_edit_errors_name_the_field_and_change_nothing(api_a, org_a, org_b, owner_a):
    ann = add_customer(org_a, "Ann")
    task = add_task(ann, title="Call back", assignee=owner_a)
    viewer = make_member(org_a, Role.VIEWER)
    outsider = make_member(org_b, Role.SERVICE)
    url = API + f"tasks/{task.pk}/"
    cases = [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"due_date": "someday"}, "due_date"),
        ({"assignee": outsider.pk}, "assignee"),
        ({"assignee": viewer.pk}, "assignee"),
        ({"customer": add_customer(org_a, "Bob").pk}, "customer"),
        ({"title": "New", "assignee": viewer.pk}, "assignee"),
    ]
    for body, field in cases:
        assert list(fields_of(api_a.patch(url, body, format="json"))) == [field], body
    assert (
        "cannot take this"
        in fields_of(api_a.patch(url, {"assignee": viewer.pk}, format="json"))["assignee"][0]
    )
    stored = reload(org_a, Task, task.pk)
    assert (stored.title, stored.assignee_id, stored.customer_id) == (
        "Call back",
        owner_a.pk,
        ann.pk,
    )
    assert audit_of(org_a, task, AuditEntry.Action.UPDATE) == []


def test_who_may_delete_a_task(org_a, owner_a):
    ann = add_customer(org_a, "Ann")
    seller, seller_api = key_of(org_a, Role.SALES)
    _, manager_api = key_of(org_a, Role.MANAGER)
    _, viewer_api = key_of(org_a, Role.VIEWER)
    theirs = add_task(ann, title="Owner's", assignee=owner_a, created_by=owner_a)
    assigned = add_task(ann, title="Given to the seller", assignee=seller, created_by=owner_a)
    created = add_task(ann, title="Made by the seller", assignee=owner_a, created_by=seller)
    refused = seller_api.delete(API + f"tasks/{theirs.pk}/")
    assert refused.status_code == 403 and "assigned to you" in refused.json()["error"]["message"]
    assert viewer_api.delete(API + f"tasks/{assigned.pk}/").status_code == 403
    assert seller_api.delete(API + f"tasks/{assigned.pk}/").status_code == 204
    assert seller_api.delete(API + f"tasks/{created.pk}/").status_code == 204
    assert manager_api.delete(API + f"tasks/{theirs.pk}/").status_code == 204
    with tenant_context(org_a.pk):
        assert not Task.objects.exists()
    (deleted,) = audit_of(org_a, theirs, AuditEntry.Action.DELETE)
    assert deleted["title"] == ["Owner's", None]


def test_a_viewer_may_not_edit_tasks_or_cases(org_a, owner_a):
    ann = add_customer(org_a, "Ann")
    task = add_task(ann, title="Call back")
    case = open_case(org_a, owner_a, ann)
    _, viewer_api = key_of(org_a, Role.VIEWER)
    assert (
        viewer_api.patch(API + f"tasks/{task.pk}/", {"title": "X"}, format="json").status_code
        == 403
    )
    assert (
        viewer_api.patch(
            API + f"cases/{case.pk}/", {"priority": "urgent"}, format="json"
        ).status_code
        == 403
    )
    assert reload(org_a, Task, task.pk).title == "Call back"
    assert reload(org_a, Case, case.pk).priority == "normal"


def test_another_organizations_task_or_case_is_404_and_untouched(api_a, org_b, owner_b):
    bob = add_customer(org_b, "Bob of B")
    task = add_task(bob, title="Theirs")
    case = open_case(org_b, owner_b, bob)
    for method, path, body in (
        ("patch", f"tasks/{task.pk}/", {"title": "Mine"}),
        ("put", f"tasks/{task.pk}/", {"customer": bob.pk, "title": "Mine"}),
        ("delete", f"tasks/{task.pk}/", None),
        ("patch", f"cases/{case.pk}/", {"subject": "Mine", "priority": "low"}),
    ):
        response = getattr(api_a, method)(API + path, body, format="json")
        assert response.status_code == 404, (method, path)
    assert reload(org_b, Task, task.pk).title == "Theirs"
    stored = reload(org_b, Case, case.pk)
    assert (stored.subject, stored.priority) == ("Broken", "normal")


def test_a_case_is_edited_and_a_new_priority_moves_its_due_time(api_a, org_a, owner_a):
    ann = add_customer(org_a, "Ann")
    case = open_case(org_a, owner_a, ann)
    url = API + f"cases/{case.pk}/"
    response = api_a.patch(
        url,
        {"subject": "Zip broken", "description": "Since Monday", "priority": "high"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["subject"], body["description"], body["priority"]) == (
        "Zip broken",
        "Since Monday",
        "high",
    )
    stored = reload(org_a, Case, case.pk)
    assert stored.due_at == stored.created_at + datetime.timedelta(hours=24)
    (changes,) = audit_of(org_a, case, AuditEntry.Action.UPDATE)
    assert changes["subject"] == ["Broken", "Zip broken"]
    assert changes["priority"] == ["normal", "high"]
    assert "due_at" in changes
    with tenant_context(org_a.pk):
        entries = list(
            Interaction.objects.filter(case_id=case.pk, kind="case_update")
            .order_by("id")
            .values_list("subject", flat=True)
        )
    assert entries[-1] == f"Case #{case.number} priority: Normal → High"


def test_case_edit_errors_name_the_field_and_change_nothing(api_a, org_a, org_b, owner_a):
    ann = add_customer(org_a, "Ann")
    case = open_case(org_a, owner_a, ann)
    outsider = make_member(org_b, Role.SERVICE)
    url = API + f"cases/{case.pk}/"
    for body, field in (
        ({"subject": ""}, "subject"),
        ({"subject": "S", "priority": "whenever"}, "priority"),
        ({"priority": "high", "assignee": outsider.pk}, "assignee"),
    ):
        assert list(fields_of(api_a.patch(url, body, format="json"))) == [field], body
    stored = reload(org_a, Case, case.pk)
    assert (stored.subject, stored.priority, stored.due_at) == ("Broken", "normal", case.due_at)
    assert audit_of(org_a, case, AuditEntry.Action.UPDATE) == []
