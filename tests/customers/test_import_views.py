"""The CSV import pages through the Django test client: the whole flow, roles, isolation across
organizations, and query counts that do not grow with the data."""

import functools
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from crm.models import Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers.models import Customer, ImportJob
from customers.tasks import check_import, run_import
from tests.conftest import member_client
from tests.customers.helpers import add_customer
from tests.customers.test_imports import upload

pytestmark = pytest.mark.django_db

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}
CaptureCallbacks = Callable[..., Any]

CSV = (
    "Name,E-mail,City,Favourite colour\n"
    "Ann Lee,ann@example.com,York,blue\n"
    "Bob Ray,bob@example.com,Leeds,red\n"
    "<b>Bad</b>,not-an-email,Hull,green\n"
)


def url(name: str, organization: Organization, **kwargs: Any) -> str:
    return reverse(f"customers:{name}", kwargs={"org_slug": organization.slug, **kwargs})


def csv_file(text: str = CSV, name: str = "people.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def make_job(
    organization: Organization, actor: User | None, text: str = CSV, *, mapped: bool = True
) -> ImportJob:
    return upload(organization, actor, text, mapped=mapped)


def test_the_whole_import_flow(
    client_a: Client,
    org_a: Organization,
    owner_a: User,
    django_capture_on_commit_callbacks: CaptureCallbacks,
) -> None:
    add_customer(org_a, "Ann Lee", emails=["ann@example.com"], city="London")
    response = client_a.get(url("list", org_a))
    assert url("imports", org_a) in response.content.decode()  # "Import CSV" on the list
    response = client_a.get(url("imports", org_a))
    assert response.status_code == 200 and "No imports yet" in response.content.decode()

    # Upload: choose the kind and the file.
    page = client_a.get(url("import_upload", org_a) + "?kind=interactions").content.decode()
    assert (
        'value="customers"' in page
        and 'value="interactions" id="id_kind_1" required checked' in page
    )
    response = client_a.post(url("import_upload", org_a), {"kind": "customers", "file": csv_file()})
    with tenant_context(org_a.pk):
        job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("import_mapping", org_a, pk=job.pk)

    # Mapping: the guesses are preselected; an unknown column is left out.
    page = client_a.get(url("import_mapping", org_a, pk=job.pk)).content.decode()
    assert '<option value="emails" selected>' in page
    assert "Favourite colour" in page and "blue" in page
    data = {"column_0": "name", "column_1": "emails", "column_2": "city", "column_3": ""}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_a.post(url("import_mapping", org_a, pk=job.pk), data)
    assert response["Location"] == url("import_preview", org_a, pk=job.pk)
    [check] = callbacks
    assert isinstance(check, functools.partial) and check.func == check_import.delay

    # Preview: the first rows with their fate and per-row errors (row, column, message).
    page = client_a.get(url("import_preview", org_a, pk=job.pk)).content.decode()
    assert "Updates an existing record" in page and "New" in page
    assert '<th scope="row">4</th>' in page
    assert "<strong>E-mail</strong>: “not-an-email” is not a valid e-mail address." in page
    assert "&lt;b&gt;Bad&lt;/b&gt;" in page and "<b>Bad</b>" not in page  # escaped
    with tenant_context(org_a.pk):
        assert Customer.objects.count() == 1  # nothing imported by looking
    # The whole-file check is polled until the task has run.
    partial = client_a.get(url("import_preview", org_a, pk=job.pk), **HTMX).content.decode()
    assert 'hx-trigger="every 1s"' in partial and "<html" not in partial
    assert check_import(**check.keywords) == "done"
    partial = client_a.get(url("import_preview", org_a, pk=job.pk), **HTMX).content.decode()
    assert "every 1s" not in partial
    assert "1 to create, 1 to update" in partial
    assert "1 with errors" in partial

    # Start: queued on commit; the progress page polls a partial with a <progress> bar.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_a.post(url("import_start", org_a, pk=job.pk))
    assert response["Location"] == url("import_detail", org_a, pk=job.pk)
    [start] = callbacks
    assert start.func == run_import.delay
    page = client_a.get(url("import_detail", org_a, pk=job.pk)).content.decode()
    assert '<progress value="0" max="3"' in page
    assert 'hx-trigger="every 1s"' in page
    # The preview and mapping of a started import lead to its progress.
    assert client_a.get(url("import_mapping", org_a, pk=job.pk))["Location"] == url(
        "import_detail", org_a, pk=job.pk
    )

    assert run_import(**start.keywords) == "completed"
    partial = client_a.get(url("import_detail", org_a, pk=job.pk), **HTMX).content.decode()
    assert "<html" not in partial and "every 1s" not in partial  # polling stops
    assert '<progress value="3" max="3"' in partial
    for label, number in (("Created", 1), ("Updated", 1), ("Unchanged", 0), ("Failed", 1)):
        assert f'<th scope="row">{label}</th><td>{number}</td>' in partial
    assert url("import_errors", org_a, pk=job.pk) in partial
    assert "<td>4</td><td>E-mail</td>" in partial

    response = client_a.get(url("import_errors", org_a, pk=job.pk))
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert body.startswith("\ufeffrow,column,message\r\n4,E-mail,")

    page = client_a.get(url("imports", org_a)).content.decode()
    assert url("import_detail", org_a, pk=job.pk) in page and "Completed" in page


def test_a_refused_file_is_explained_and_nothing_is_stored(
    client_a: Client, org_a: Organization
) -> None:
    response = client_a.post(
        url("import_upload", org_a),
        {"kind": "customers", "file": csv_file("name,city\nAnn,York\nBob\n")},
    )
    assert response.status_code == 200
    assert "1 row(s) do not: row 3" in response.content.decode()
    response = client_a.post(url("import_upload", org_a), {"kind": "planets", "file": csv_file()})
    assert "Select a valid choice" in response.content.decode()
    with tenant_context(org_a.pk):
        assert ImportJob.objects.count() == 0


def test_a_bad_mapping_is_explained_on_the_page(client_a: Client, org_a: Organization) -> None:
    job = make_job(org_a, None, mapped=False)
    data = {"column_0": "city", "column_1": "city", "column_2": "", "column_3": ""}
    response = client_a.post(url("import_mapping", org_a, pk=job.pk), data)
    assert response.status_code == 200
    assert "is chosen for both" in response.content.decode()
    with tenant_context(org_a.pk):
        job.refresh_from_db()
        assert job.status == ImportJob.Status.UPLOADED


def test_starting_an_unmapped_import_goes_back_to_the_mapping(
    client_a: Client, org_a: Organization
) -> None:
    job = make_job(org_a, None, mapped=False)
    response = client_a.post(url("import_start", org_a, pk=job.pk), follow=True)
    assert "Map the columns before running the import." in response.content.decode()
    assert response.redirect_chain[-1][0] == url("import_mapping", org_a, pk=job.pk)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ADMIN, True),
        (Role.MANAGER, True),
        (Role.SALES, False),
        (Role.SERVICE, False),
        (Role.VIEWER, False),
    ],
)
def test_only_leads_may_import(
    org_a: Organization, owner_a: User, role: str, allowed: bool
) -> None:
    job = make_job(org_a, owner_a)
    _, client = member_client(org_a, role)
    expected = 200 if allowed else 403
    assert client.get(url("imports", org_a)).status_code == expected
    assert client.get(url("import_upload", org_a)).status_code == expected
    assert client.get(url("import_preview", org_a, pk=job.pk)).status_code == expected
    response = client.post(url("import_start", org_a, pk=job.pk))
    assert response.status_code == (302 if allowed else 403)
    assert (url("imports", org_a) in client.get(url("list", org_a)).content.decode()) is allowed


def test_another_organizations_imports_are_404(
    client_a: Client, org_a: Organization, org_b: Organization, owner_b: User
) -> None:
    theirs = make_job(org_b, owner_b)
    for name in ("import_mapping", "import_preview", "import_detail", "import_errors"):
        assert client_a.get(url(name, org_a, pk=theirs.pk)).status_code == 404, name
        assert client_a.get(url(name, org_b, pk=theirs.pk)).status_code == 404, name
    assert client_a.post(url("import_start", org_a, pk=theirs.pk)).status_code == 404
    data = {"column_0": "name"}
    assert client_a.post(url("import_mapping", org_a, pk=theirs.pk), data).status_code == 404
    assert "people.csv" not in client_a.get(url("imports", org_a)).content.decode()
    with tenant_context(org_b.pk):
        theirs.refresh_from_db()
        assert theirs.status == ImportJob.Status.MAPPED


def bulk_jobs(organization: Organization, actor: User, count: int) -> ImportJob:
    errors = [{"row": n, "field": "E-mail", "message": "bad"} for n in range(count)]
    with tenant_context(organization.pk):
        ImportJob.objects.bulk_create(
            [
                ImportJob(
                    organization=organization,
                    kind="customers",
                    status=status,
                    file_name=f"file{n}.csv",
                    csv_text=CSV,
                    total_rows=count,
                    processed_rows=count // 2,
                    errors=errors,
                    created_by=actor,
                )
                for n in range(count)
                for status in ("running", "completed")
            ]
        )
        return ImportJob.objects.filter(status="running").first()  # type: ignore[return-value]


@pytest.mark.parametrize("count", [3, 9])
def test_import_list_and_progress_queries_do_not_grow(
    client_a: Client,
    org_a: Organization,
    owner_a: User,
    django_assert_max_num_queries: Any,
    count: int,
) -> None:
    job = bulk_jobs(org_a, owner_a, count)
    with django_assert_max_num_queries(8):
        response = client_a.get(url("imports", org_a))
    assert response.content.decode().count("file") >= min(2 * count, 25)
    with django_assert_max_num_queries(6):
        response = client_a.get(url("import_detail", org_a, pk=job.pk), **HTMX)
    assert 'hx-trigger="every 1s"' in response.content.decode()
