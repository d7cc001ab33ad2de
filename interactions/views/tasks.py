"""My tasks: the signed-in member's follow-ups, marked done (or reopened) in place."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from crm.permissions import requires
from interactions import services
from interactions.models import Task
from interactions.selectors import my_tasks, organization_today
from interactions.views.common import OrgRequest, in_organization_timezone, is_partial, paginate

TEMPLATE = "interactions/my_tasks.html"


@requires("tasks.view")
@require_http_methods(["GET"])
@in_organization_timezone
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
    template = f"{TEMPLATE}#results" if is_partial(request) else TEMPLATE
    return render(request, template, context)


def _task_changed(request: OrgRequest, task: Task, message: str) -> HttpResponse:
    if is_partial(request):
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
@in_organization_timezone
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
@in_organization_timezone
def task_reopen(request: OrgRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task, organization=request.organization, pk=pk)
    task = services.task_reopen(
        organization=request.organization,
        actor=request.user,  # type: ignore[arg-type]
        task=task,
    )
    return _task_changed(request, task, f"Reopened: {task.title}")
