"""Pages that edit tasks (from My tasks and from the timeline) and cases (on the case page):
permissions per role, 404 across organizations, bad input, bounded query counts."""

import datetime
import json

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry, Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from interactions import services
from interactions.models import Case, Interaction, Task
from tests.conftest import member_client
from tests.factories import make_member
from tests.interactions.helpers import add_customer, add_interaction, add_task

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
STAFF = [Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES, Role.SERVICE]


def url(org: Organization, name: str, **kwargs: object) -> str:
    return reverse(f"interactions:{name}", kwargs={"org_slug": org.slug, **kwargs})


def reload(org: Organization, model: type, pk: int):  # type: ignore[no-untyped-def]
    with tenant_context(org.pk):
        return model.objects.filter(pk=pk).first()  # type: ignore[attr-defined]


def open_case(org: Organization, actor: User, **fields: object) -> Case:
    customer = add_customer(org, "Ann")
    with tenant_context(org.pk):
        return services.case_open(
            organization=org,
            actor=actor,
            customer=customer,
            subject="Broken zip",
            **fields,  # type: ignore[arg-type]
        )


def updates_of(org: Organization, instance: object) -> int:
    with tenant_context(org.pk):
        return AuditEntry.objects.filter(
            object_type=instance._meta.label_lower,  # type: ignore[attr-defined]
            object_id=str(instance.pk),  # type: ignore[attr-defined]
            action=AuditEntry.Action.UPDATE,
        ).count()


# --- tasks --------------------------------------------------------------------------------------


def test_my_tasks_links_to_the_edit_page_which_saves_and_returns(
    org_a: Organization, owner_a: User, client_a: Client
) -> None:
    ann = add_customer(org_a, "Ann")
    agent = make_member(org_a, Role.SERVICE)
    task = add_task(ann, title="Call back", assignee=owner_a)
    edit_url = url(org_a, "task_edit", pk=task.pk)
    assert f"{edit_url}?back=tasks" in client_a.get(url(org_a, "my_tasks")).content.decode()
    page = client_a.get(edit_url + "?back=tasks")
    assert page.status_code == 200
    assert b'value="Call back"' in page.content and b"Delete task" in page.content
    response = client_a.post(
        edit_url,
        {
            "back": "tasks",
            "title": "Call back about the zip",
            "due_date": "2026-04-01",
            "assignee": agent.pk,
        },
    )
    assert response.status_code == 302 and response["Location"] == url(org_a, "my_tasks")
    stored = reload(org_a, Task, task.pk)
    assert (stored.title, stored.due_date, stored.assignee_id) == (
        "Call back about the zip",
        datetime.date(2026, 4, 1),
        agent.pk,
    )
    assert updates_of(org_a, task) == 1


def test_editing_a_task_from_its_timeline_entry_reloads_the_timeline(
    org_a: Organization, owner_a: User, client_a: Client
) -> None:
    ann = add_customer(org_a, "Ann")
    task = add_task(ann, title="Call back", assignee=owner_a)
    timeline = client_a.get(url(org_a, "timeline", customer_pk=ann.pk), **HTMX).content.decode()
    edit_url = url(org_a, "task_edit", pk=task.pk)
    assert f'hx-get="{edit_url}?back=timeline"' in timeline
    form = client_a.get(edit_url + "?back=timeline", **HTMX)
    assert b"<html" not in form.content
    assert f'hx-target="#task-edit-{task.pk}"'.encode() in form.content
    saved = client_a.post(edit_url, {"back": "timeline", "title": "Ring Ann"}, **HTMX)
    assert saved.status_code == 200 and b"Saved: Ring Ann" in saved.content
    assert "timeline-changed" in json.loads(saved["HX-Trigger"])
    stored = reload(org_a, Task, task.pk)
    assert (stored.title, stored.assignee_id) == ("Ring Ann", None)
    plain = client_a.post(edit_url, {"back": "timeline", "title": "Ring Ann again"})
    assert plain["Location"] == url(org_a, "timeline", customer_pk=ann.pk)


def test_a_bad_task_edit_shows_the_field_errors_and_saves_nothing(
    org_a: Organization, org_b: Organization, owner_a: User, client_a: Client
) -> None:
    ann = add_customer(org_a, "Ann")
    task = add_task(ann, title="Call back", assignee=owner_a)
    outsider = make_member(org_b, Role.SERVICE)
    viewer = make_member(org_a, Role.VIEWER)
    edit_url = url(org_a, "task_edit", pk=task.pk)
    for data, field in (
        ({"title": "  "}, "title"),
        ({"title": "T", "due_date": "31/31/2026"}, "due_date"),
        ({"title": "T", "assignee": outsider.pk}, "assignee"),
        ({"title": "T", "assignee": viewer.pk}, "assignee"),
    ):
        response = client_a.post(edit_url, data, **HTMX)
        assert response.status_code == 200
        assert f'id="id_{field}_error"'.encode() in response.content, data
    stored = reload(org_a, Task, task.pk)
    assert (stored.title, stored.assignee_id) == ("Call back", owner_a.pk)
    assert updates_of(org_a, task) == 0


def test_a_task_held_by_a_former_member_keeps_its_assignee_when_edited(
    org_a: Organization, client_a: Client
) -> None:
    ann = add_customer(org_a, "Ann")
    former = make_member(org_a, Role.SALES)
    task = add_task(ann, title="Call back", assignee=former)
    with tenant_context(org_a.pk):
        former.memberships.filter(organization=org_a).update(is_active=False)
    response = client_a.post(
        url(org_a, "task_edit", pk=task.pk), {"title": "Ring back", "assignee": former.pk}
    )
    assert response.status_code == 302
    stored = reload(org_a, Task, task.pk)
    assert (stored.title, stored.assignee_id) == ("Ring back", former.pk)


@pytest.mark.parametrize("role", STAFF)
def test_staff_edit_tasks_and_delete_their_own(
    org_a: Organization, owner_a: User, role: str
) -> None:
    user, client = member_client(org_a, role)
    ann = add_customer(org_a, "Ann")
    own = add_task(ann, title="Mine", assignee=user)
    others = add_task(ann, title="Someone else's", assignee=owner_a, created_by=owner_a)
    assert (
        client.post(url(org_a, "task_edit", pk=others.pk), {"title": "Edited"}).status_code == 302
    )
    assert reload(org_a, Task, others.pk).title == "Edited"
    page = client.get(url(org_a, "task_edit", pk=others.pk))
    lead = role in (Role.OWNER, Role.ADMIN, Role.MANAGER)
    assert (b"Delete task" in page.content) == lead
    deleted = client.post(url(org_a, "task_delete", pk=others.pk))
    assert deleted.status_code == (302 if lead else 403)
    assert (reload(org_a, Task, others.pk) is None) == lead
    response = client.post(url(org_a, "task_delete", pk=own.pk), {"back": "timeline"}, **HTMX)
    assert response.status_code == 200 and b"Deleted: Mine" in response.content
    assert "timeline-changed" in json.loads(response["HX-Trigger"])
    assert reload(org_a, Task, own.pk) is None


def test_a_viewer_sees_no_edit_and_is_refused(org_a: Organization, owner_a: User) -> None:
    _, client = member_client(org_a, Role.VIEWER)
    ann = add_customer(org_a, "Ann")
    add_interaction(ann)
    task = add_task(ann, title="Call back", assignee=owner_a)
    timeline = client.get(url(org_a, "timeline", customer_pk=ann.pk), **HTMX).content
    assert url(org_a, "task_edit", pk=task.pk).encode() not in timeline
    assert client.get(url(org_a, "task_edit", pk=task.pk)).status_code == 403
    assert client.post(url(org_a, "task_edit", pk=task.pk), {"title": "X"}).status_code == 403
    assert client.post(url(org_a, "task_delete", pk=task.pk)).status_code == 403
    case = open_case(org_a, owner_a)
    detail = client.get(url(org_a, "case_detail", pk=case.pk)).content
    assert url(org_a, "case_edit", pk=case.pk).encode() not in detail
    refused = client.post(url(org_a, "case_edit", pk=case.pk), {"subject": "X", "priority": "low"})
    assert refused.status_code == 403
    assert reload(org_a, Task, task.pk).title == "Call back"
    assert reload(org_a, Case, case.pk).subject == "Broken zip"


def test_another_organizations_task_or_case_is_not_found(
    org_a: Organization, org_b: Organization, owner_b: User, client_a: Client
) -> None:
    bob = add_customer(org_b, "Bob of B")
    task = add_task(bob, title="Theirs")
    case = open_case(org_b, owner_b)
    assert client_a.get(url(org_a, "task_edit", pk=task.pk)).status_code == 404
    assert client_a.post(url(org_a, "task_edit", pk=task.pk), {"title": "X"}).status_code == 404
    assert client_a.post(url(org_a, "task_delete", pk=task.pk)).status_code == 404
    edit = client_a.post(url(org_a, "case_edit", pk=case.pk), {"subject": "X", "priority": "low"})
    assert edit.status_code == 404
    assert reload(org_b, Task, task.pk).title == "Theirs"
    assert reload(org_b, Case, case.pk).subject == "Broken zip"


# --- cases --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF)
def test_staff_edit_a_case_on_its_page(org_a: Organization, owner_a: User, role: str) -> None:
    _, client = member_client(org_a, role)
    case = open_case(org_a, owner_a)
    page = client.get(url(org_a, "case_detail", pk=case.pk)).content.decode()
    assert url(org_a, "case_edit", pk=case.pk) in page and 'value="Broken zip"' in page
    response = client.post(
        url(org_a, "case_edit", pk=case.pk),
        {"subject": "Zip broken again", "description": "Second time", "priority": "urgent"},
    )
    assert response.status_code == 302
    assert response["Location"] == url(org_a, "case_detail", pk=case.pk)
    stored = reload(org_a, Case, case.pk)
    assert (stored.subject, stored.description, stored.priority) == (
        "Zip broken again",
        "Second time",
        "urgent",
    )
    assert stored.due_at == stored.created_at + datetime.timedelta(hours=4)
    page = client.get(url(org_a, "case_detail", pk=case.pk)).content.decode()
    assert f"Case #{case.number} priority: Normal → Urgent" in page
    assert f"Case #{case.number} saved." in page


def test_a_bad_case_edit_shows_the_errors_and_saves_nothing(
    org_a: Organization, owner_a: User, client_a: Client
) -> None:
    case = open_case(org_a, owner_a)
    for data, field in (
        ({"subject": "", "priority": "high"}, "subject"),
        ({"subject": "x" * 201, "priority": "high"}, "subject"),
        ({"subject": "Fine", "priority": "someday"}, "priority"),
    ):
        response = client_a.post(url(org_a, "case_edit", pk=case.pk), data)
        assert response.status_code == 200
        assert f'id="id_{field}_error"'.encode() in response.content, data
    stored = reload(org_a, Case, case.pk)
    assert (stored.subject, stored.priority, stored.due_at) == ("Broken zip", "normal", case.due_at)
    assert updates_of(org_a, case) == 0
    with tenant_context(org_a.pk):
        assert Interaction.objects.filter(case_id=case.pk).count() == 1  # "opened" only


# --- query counts -------------------------------------------------------------------------------


def _fill(org: Organization, owner: User, count: int) -> tuple[Task, Case]:
    ann = add_customer(org, "Ann")
    for _ in range(count):
        make_member(org, Role.SERVICE)
        add_task(ann, assignee=owner)
    task = add_task(ann, title="Edit me", assignee=owner)
    case = open_case(org, owner)
    with tenant_context(org.pk):
        for number in range(count):
            services.case_change_status(
                organization=org,
                actor=owner,
                case=case,
                status="pending" if number % 2 else "open",
            )
    return task, case


def _queries(client: Client, path: str, django_assert_max_num_queries, bound: int, **extra):  # type: ignore[no-untyped-def]
    with django_assert_max_num_queries(bound) as captured:
        assert client.get(path, **extra).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    ("name", "htmx", "bound"),
    [("task_edit", False, 9), ("task_edit", True, 9), ("case_detail", False, 10)],
)
def test_edit_page_queries_do_not_grow_with_the_data(
    org_a: Organization,
    owner_a: User,
    client_a: Client,
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
    name: str,
    htmx: bool,
    bound: int,
) -> None:
    extra = HTMX if htmx else {}
    counts = []
    for count in (3, 9):
        task, case = _fill(org_a, owner_a, count)
        pk = task.pk if name == "task_edit" else case.pk
        counts.append(
            _queries(
                client_a, url(org_a, name, pk=pk), django_assert_max_num_queries, bound, **extra
            )
        )
    assert counts[0] == counts[1]
