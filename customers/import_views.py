"""CSV import pages: upload, map the columns, preview, start, follow the run, read the report.

The work is in customers.imports (services) and customers.tasks (the Celery run); these views
parse the request, call them and render. Every page needs "customers.import"; the upload also
offers only the kinds whose importer's own permission the member has.
"""

from itertools import islice
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.csv import streaming_csv_response
from crm.htmx import wants_partial
from crm.models import User
from crm.permissions import requires
from customers import imports, selectors
from customers.forms import ImportMappingForm, ImportUploadForm
from customers.models import ImportJob
from customers.views import _membership, _organization
from customers.views import _render as _render_page

PAGE_SIZE = 25
SAMPLE_VALUES = 3
REPORT_ERRORS_SHOWN = 50


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], *, partial: str | None = None
) -> HttpResponse:
    return _render_page(request, template, {"nav": "customers", **context}, partial=partial)


def _url(request: HttpRequest, name: str, **kwargs: Any) -> str:
    return reverse(f"customers:{name}", kwargs={"org_slug": _organization(request).slug, **kwargs})


def _job_or_404(request: HttpRequest, pk: int, *, with_text: bool = False) -> ImportJob:
    job = selectors.import_job_get(organization=_organization(request), pk=pk, with_text=with_text)
    if job is None:
        raise Http404("No such import.")
    return job


def _importer_or_404(job: ImportJob) -> imports.Importer:
    importer = imports.get_importer(job.kind)
    if importer is None:
        raise Http404("This kind of import is not available.")
    return importer


def _step_url(request: HttpRequest, job: ImportJob) -> str:
    """Where a job is continued: mapping, preview, or its progress and report."""
    if job.status == ImportJob.Status.UPLOADED:
        return _url(request, "import_mapping", pk=job.pk)
    if job.status == ImportJob.Status.MAPPED:
        return _url(request, "import_preview", pk=job.pk)
    return _url(request, "import_detail", pk=job.pk)


def _allowed_kinds(request: HttpRequest) -> list[tuple[str, str]]:
    membership = _membership(request)
    return [
        (importer.kind, importer.label)
        for importer in imports.available_importers()
        if membership.has_permission(importer.permission)
    ]


# --- List and upload -------------------------------------------------------------------------


@requires("customers.import")
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    jobs = selectors.import_jobs(organization=_organization(request))
    page_obj = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(job, _step_url(request, job)) for job in page_obj]
    return _render(
        request, "customers/imports/import_list.html", {"page_obj": page_obj, "rows": rows}
    )


@requires("customers.import")
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    kinds = _allowed_kinds(request)
    kind = request.GET.get("kind")
    initial = {"kind": kind if kind in dict(kinds) else (kinds[0][0] if kinds else "")}
    form = ImportUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        kinds=kinds,
        max_bytes=imports.MAX_FILE_BYTES,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = imports.import_job_create(
                organization=_organization(request),
                actor=cast(User, request.user),
                kind=form.cleaned_data["kind"],
                file_name=upload.name or "",
                data=upload.read(imports.MAX_FILE_BYTES + 1),
            )
        except ValidationError as error:
            for key, problems in error.message_dict.items():
                for problem in problems:
                    form.add_error(key if key in form.fields else None, problem)
        else:
            return redirect(_url(request, "import_mapping", pk=job.pk))
    return _render(
        request,
        "customers/imports/import_upload.html",
        {"form": form, "max_rows": imports.MAX_ROWS},
    )


# --- Mapping and preview ---------------------------------------------------------------------


@requires("customers.import")
@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    organization = _organization(request)
    job = _job_or_404(request, pk, with_text=True)
    if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.MAPPED):
        return redirect(_step_url(request, job))
    importer = _importer_or_404(job)
    try:
        parsed = imports.parse_csv(job.csv_text)
    except imports.ImportFileError as error:  # stored files were parsed once; be safe anyway
        raise Http404(str(error)) from None
    samples = {
        header: [cells[position] for _, cells in islice(parsed.rows, SAMPLE_VALUES)]
        for position, header in enumerate(parsed.headers)
    }
    fields = importer.fields(organization=organization)
    form = ImportMappingForm(
        request.POST if request.method == "POST" else None,
        headers=parsed.headers,
        fields=fields,
        mapping=job.mapping,
        samples=samples,
    )
    if request.method == "POST" and form.is_valid():
        try:
            imports.import_job_set_mapping(
                organization=organization,
                actor=cast(User, request.user),
                job=job,
                mapping=form.mapping(),
            )
        except ValidationError as error:
            for problem in error.messages:
                form.add_error(None, problem)
        else:
            return redirect(_url(request, "import_preview", pk=job.pk))
    return _render(
        request,
        "customers/imports/import_mapping.html",
        {"job": job, "form": form, "importer": importer, "fields": fields},
    )


@requires("customers.import")
@require_GET
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The first rows as the run would treat them, and the whole file's check as it runs.

    The check's totals are a partial the page polls until the dry-run task is done.
    """
    organization = _organization(request)
    if wants_partial(request):
        job = _job_or_404(request, pk)
        return _render(
            request, "customers/imports/import_preview.html", {"job": job}, partial="check"
        )
    job = _job_or_404(request, pk, with_text=True)
    if job.status != ImportJob.Status.MAPPED:
        return redirect(_step_url(request, job))
    _importer_or_404(job)
    preview = imports.preview_rows(organization=organization, job=job)
    return _render(
        request,
        "customers/imports/import_preview.html",
        {"job": job, "preview": preview, "preview_limit": imports.PREVIEW_ROWS},
    )


@requires("customers.import")
@require_POST
def import_start(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_or_404(request, pk)
    try:
        job = imports.import_job_start(
            organization=_organization(request), actor=cast(User, request.user), job=job
        )
    except ValidationError as error:
        for problem in error.messages:
            messages.error(request, problem)
        return redirect(_step_url(request, job))
    return redirect(_url(request, "import_detail", pk=job.pk))


# --- Progress, report, error file --------------------------------------------------------------


@requires("customers.import")
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's progress (a partial polled every second while it runs), then its report."""
    job = _job_or_404(request, pk)
    if job.status in (ImportJob.Status.UPLOADED, ImportJob.Status.MAPPED):
        return redirect(_step_url(request, job))
    return _render(
        request,
        "customers/imports/import_detail.html",
        {
            "job": job,
            "errors_shown": job.errors[:REPORT_ERRORS_SHOWN] if job.is_finished else [],
            "errors_limit": REPORT_ERRORS_SHOWN,
        },
        partial="progress",
    )


@requires("customers.import")
@require_GET
def import_errors(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The row errors as a CSV file (cells neutralised like every export)."""
    job = _job_or_404(request, pk)
    return streaming_csv_response(
        imports.error_report_rows(job),
        filename=f"import-{job.pk}-errors.csv",
        organization_id=_organization(request).pk,
        user_id=request.user.pk,
    )
