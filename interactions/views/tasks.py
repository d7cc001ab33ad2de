"""My tasks: the signed-in member's follow-ups, marked done (or reopened) in place; editing
and deleting a task (from My tasks or from its entry on the customer's timeline)."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from crm.htmx import wants_partial
from crm.permissions import requires
from interactions import services
from interactions.forms import TaskEditForm, apply_service_errors
from interactions.models import Task
from interactions.selectors import my_tasks, organization_today
from interactions.views.common import OrgRequest, paginate
from interactions.views.customer import FORMS_TEMPLATE, TIMELINE_CHANGED

TEMPLATE = "interactions/my_tasks.html"
EDIT_TEMPLATE = "interactions/task_edit.html"
# Where the edit page returns to: My tasks, or the timeline of the task's customer.
BACK_TO = ("tasks", "timeline")


@requires("tasks.view")
@require_http_methods(["GET"])
def task_list(request: OrgRequest) -> HttpResponse:
    """Open tasks (overdue first, then by due date) or recently done ones."""
    show = "done" if request.GET.get("show") == "done" else "open"
    tasks = my_tasks(
        organization=request.organization,
        user=request.user,  # type: ignore[arg-type]
        done=show == "done",
    )
    context = {
        "nav": "tasks",
        "show": show,
        "page_obj": paginate(request, tasks),
        "query_string": f"show={show}",
        "today": organization_today(request.organization),
        "can_change": request.membership.has_permission("tasks.change"),
    }
    template = f"{TEMPLATE}#results" if wants_partial(request) else TEMPLATE
    return render(request, template, context)


def _task_changed(request: OrgRequest, task: Task, message: str) -> HttpResponse:
    if wants_partial(request):
        task = get_object_or_404(
            Task.objects.select_related("customer", "interaction"),
            organization=request.organization,
            pk=task.pk,
        )
        context = {
            "task": task,
            "today": organization_today(request.organization),
            "can_change": True,
            "row_message": message,
        }
        return render(request, f"{TEMPLATE}#task_row", context)
    messages.success(request, message)
    return redirect("interactions:my_tasks", org_slug=request.organization.slug)


@requires("tasks.change")
@require_POST
def task_done(request: OrgRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task, organization=request.organization, pk=pk)
    task = services.task_complete(
        organization=request.organization,
        actor=request.user,  # type: ignore[arg-type]
        task=task,
    )
    return _task_changed(request, task, f"Done: {task.title}")


@requires("tasks.change")
@require_POST
def task_reopen(request: OrgRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task, organization=request.organization, pk=pk)
    task = services.task_reopen(
        organization=request.organization,
        actor=request.user,  # type: ignore[arg-type]
        task=task,
    )
    return _task_changed(request, task, f"Reopened: {task.title}")


def _back(request: OrgRequest) -> str:
    back = request.GET.get("back") or request.POST.get("back")
    return back if back in BACK_TO else "tasks"


def _back_url(request: OrgRequest, task: Task, back: str) -> str:
    slug = request.organization.slug
    if back == "timeline":
        return reverse(
            "interactions:timeline", kwargs={"org_slug": slug, "customer_pk": task.customer_id}
        )
    return reverse("interactions:my_tasks", kwargs={"org_slug": slug})


def _edited(request: OrgRequest, task: Task, back: str, message: str) -> HttpResponse:
    """HTMX (the form in the timeline entry): a confirmation, and the timeline reloads.
    Otherwise back to where the edit started, with the message."""
    if wants_partial(request):
        response = render(request, f"{FORMS_TEMPLATE}#done", {"message": message})
        return trigger_client_event(response, TIMELINE_CHANGED)
    messages.success(request, message)
    return redirect(_back_url(request, task, back))


def _get_task(request: OrgRequest, pk: int) -> Task:
    return get_object_or_404(
        Task.objects.select_related("customer", "assignee"),
        organization=request.organization,
        pk=pk,
    )


@requires("tasks.change")
@require_http_methods(["GET", "POST"])
def task_edit(request: OrgRequest, pk: int) -> HttpResponse:
    """Change a task's title, due date or assignee (the customer stays)."""
    task = _get_task(request, pk)
    back = _back(request)
    form_kwargs: dict[str, Any] = {
        "organization": request.organization,
        "holder_id": task.assignee_id,
    }
    if request.method == "POST":
        form = TaskEditForm(request.POST, **form_kwargs)
        if form.is_valid():
            try:
                task = services.task_update(
                    organization=request.organization,
                    actor=request.user,  # type: ignore[arg-type]
                    task=task,
                    **form.cleaned_data,
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                return _edited(request, task, back, f"Saved: {task.title}")
    else:
        initial = {"title": task.title, "due_date": task.due_date, "assignee": task.assignee_id}
        form = TaskEditForm(initial=initial, **form_kwargs)
    context = {
        "nav": "tasks",
        "task": task,
        "form": form,
        "back": back,
        "back_url": _back_url(request, task, back),
        "inline": wants_partial(request),
        "can_delete": services.task_may_delete(membership=request.membership, task=task),
    }
    template = f"{EDIT_TEMPLATE}#task_edit_form" if wants_partial(request) else EDIT_TEMPLATE
    return render(request, template, context)


@requires("tasks.change")
@require_POST
def task_delete(request: OrgRequest, pk: int) -> HttpResponse:
    """Delete a task; the service refuses (403) members deleting other people's tasks."""
    task = _get_task(request, pk)
    title = task.title
    services.task_delete(
        organization=request.organization,
        actor=request.user,  # type: ignore[arg-type]
        task=task,
    )
    return _edited(request, task, _back(request), f"Deleted: {title}")
