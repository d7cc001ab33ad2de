"""Merging two customers: the service (what moves, the audit trail, refusals) and the
side-by-side compare page (choices, permissions, isolation, bad input, query counts)."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from crm.models import AuditEntry, Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import services
from customers.models import ConsentEvent, Customer
from interactions import services as interaction_services
from interactions.models import Case, Interaction, PurchaseLine, Task
from tests.conftest import member_client
from tests.customers.helpers import add_company, add_customer, add_field
from tests.interactions.helpers import add_interaction, add_product, add_task

pytestmark = pytest.mark.django_db


def url(name: str, organization: Organization, **kwargs: Any) -> str:
    return reverse(f"customers:{name}", kwargs={"org_slug": organization.slug, **kwargs})


def merge_url(organization: Organization, target: Customer, source: Customer) -> str:
    return url("merge", organization, pk=target.pk, other_pk=source.pk)


def browser_post(client: Client, target: str, **choices: str) -> Any:
    """Post the compare page's form as a browser would: its preselected radios, then `choices`."""
    form = client.get(target).context["form"]
    data = {name: field.initial for name, field in form.fields.items()}
    return client.post(target, {**data, **choices})


def audit_of(organization: Organization, customer_pk: int) -> list[AuditEntry]:
    with tenant_context(organization.pk):
        return list(
            AuditEntry.objects.filter(
                organization=organization,
                object_type="customers.customer",
                object_id=str(customer_pk),
            ).order_by("id")
        )


def snapshot(organization: Organization) -> dict[str, Any]:
    """Everything a refused merge must leave alone."""
    with tenant_context(organization.pk):
        return {
            "customers": sorted(
                Customer.objects.filter(organization=organization).values_list(
                    "pk", "name", "emails", "phones", "tags", "external_id"
                )
            ),
            "interactions": sorted(
                Interaction.objects.filter(organization=organization).values_list(
                    "pk", "customer_id"
                )
            ),
            "cases": sorted(
                Case.objects.filter(organization=organization).values_list("pk", "customer_id")
            ),
            "tasks": sorted(
                Task.objects.filter(organization=organization).values_list("pk", "customer_id")
            ),
            "audit": AuditEntry.objects.filter(organization=organization).count(),
        }


@pytest.fixture
def pair(org_a: Organization, owner_a: User) -> dict[str, Any]:
    """Two records of one person, each with history on several channels."""
    kept = add_customer(
        org_a,
        "Ann Lee",
        emails=["ann@example.com"],
        phones=["+442079460958"],
        tags=["vip"],
        city="York",
    )
    merged = add_customer(
        org_a,
        "Ann Lee-Smith",
        emails=["ann@example.com", "ann@work.example"],
        phones=["+447700900123"],
        tags=["newsletter"],
        city="Leeds",
        street="2 Low Road",
        external_id="shop-77",
    )
    product = add_product(org_a, "SKU-9", "25.00")
    with tenant_context(org_a.pk):
        purchase = interaction_services.purchase_record(
            organization=org_a,
            actor=owner_a,
            customer=merged,
            lines=[interaction_services.PurchaseLineInput(product=product, quantity=2)],
        )
        case = interaction_services.case_open(
            organization=org_a, actor=owner_a, customer=merged, subject="Broken zip"
        )
        services.consent_record(
            customer=merged,
            organization=org_a,
            actor=owner_a,
            channel="email",
            granted=True,
            method="form",
        )
    call = add_interaction(merged, subject="Asked about sizes")
    task = add_task(merged, "Send the catalog")
    add_interaction(kept, subject="Kept's own call")
    return {
        "kept": kept,
        "merged": merged,
        "purchase": purchase,
        "case": case,
        "call": call,
        "task": task,
    }


# --- The service -----------------------------------------------------------------------------


def test_merge_moves_every_record_and_deletes_the_other(
    org_a: Organization, owner_a: User, pair: dict[str, Any]
) -> None:
    kept, merged = pair["kept"], pair["merged"]
    with tenant_context(org_a.pk):
        result = services.customer_merge(
            organization=org_a, actor=owner_a, source=merged, target=kept
        )
        assert result.pk == kept.pk
        assert not Customer.objects.filter(pk=merged.pk).exists()
        assert Interaction.objects.filter(customer=merged).count() == 0
        moved = {pair["purchase"].pk, pair["call"].pk}
        assert moved <= set(Interaction.objects.filter(customer=kept).values_list("pk", flat=True))
        assert Case.objects.get(pk=pair["case"].pk).customer_id == kept.pk
        assert Task.objects.get(pk=pair["task"].pk).customer_id == kept.pk
        assert ConsentEvent.objects.filter(customer=kept, channel="email").count() == 1
        # Purchase lines follow their purchase.
        line = PurchaseLine.objects.get(interaction=pair["purchase"])
        assert line.interaction.customer_id == kept.pk and line.quantity == 2
        kept.refresh_from_db()
    assert kept.name == "Ann Lee"  # the kept customer's values win unless chosen otherwise
    assert kept.city == "York"
    assert kept.street == ""  # the service keeps the kept one's values unless told otherwise
    assert kept.emails == ["ann@example.com", "ann@work.example"]
    assert kept.phones == ["+442079460958", "+447700900123"]
    assert kept.tags == ["vip", "newsletter"]


def test_merge_is_in_the_audit_trail(
    org_a: Organization, owner_a: User, pair: dict[str, Any]
) -> None:
    kept, merged = pair["kept"], pair["merged"]
    with tenant_context(org_a.pk):
        services.customer_merge(organization=org_a, actor=owner_a, source=merged, target=kept)
    update = audit_of(org_a, kept.pk)[-1]
    assert update.action == AuditEntry.Action.UPDATE
    assert update.actor_id == owner_a.pk
    assert update.changes["merged_from"] == [None, merged.pk]
    assert update.changes["merged_name"] == [None, "Ann Lee-Smith"]
    moved = update.changes["moved_rows"][1]
    assert moved["interactions.interaction"] >= 3  # purchase, call, the case's opening entry
    assert moved["interactions.case"] == 1
    assert moved["interactions.task"] == 1
    assert moved["customers.consentevent"] == 1
    assert update.changes["emails"] == [
        ["ann@example.com"],
        ["ann@example.com", "ann@work.example"],
    ]
    delete = audit_of(org_a, merged.pk)[-1]
    assert delete.action == AuditEntry.Action.DELETE
    assert delete.changes["merged_into"] == [None, kept.pk]
    assert delete.changes["name"] == ["Ann Lee-Smith", None]


def test_chosen_values_and_the_external_id_come_from_the_other(
    org_a: Organization, pair: dict[str, Any]
) -> None:
    kept, merged = pair["kept"], pair["merged"]
    with tenant_context(org_a.pk):
        services.customer_merge(
            organization=org_a,
            actor=None,
            source=merged,
            target=kept,
            field_choices={"name": "source", "city": "source", "external_id": "source"},
        )
        kept.refresh_from_db()
    assert (kept.name, kept.city, kept.external_id) == ("Ann Lee-Smith", "Leeds", "shop-77")


def test_merging_companies_moves_their_people(org_a: Organization) -> None:
    kept = add_company(org_a, "Acme Ltd")
    merged = add_company(org_a, "ACME Limited")
    person = add_customer(org_a, "Bo Ek", company=merged.pk)
    with tenant_context(org_a.pk):
        services.customer_merge(organization=org_a, actor=None, source=merged, target=kept)
        person.refresh_from_db()
    assert person.company_id == kept.pk
    assert audit_of(org_a, person.pk)[-1].changes["company"] == [merged.pk, kept.pk]


@pytest.mark.parametrize(
    ("choices", "field"),
    [({"name": "both"}, "name"), ({"emails": "source"}, "emails"), ({"kind": "source"}, "kind")],
)
def test_bad_field_choices_are_refused_and_change_nothing(
    org_a: Organization, pair: dict[str, Any], choices: dict[str, str], field: str
) -> None:
    before = snapshot(org_a)
    with tenant_context(org_a.pk), pytest.raises(ValidationError) as error:
        services.customer_merge(
            organization=org_a,
            actor=None,
            source=pair["merged"],
            target=pair["kept"],
            field_choices=choices,
        )
    assert field in error.value.message_dict
    assert snapshot(org_a) == before


def test_the_service_refuses_self_kind_and_organization_mismatches(
    org_a: Organization, org_b: Organization, pair: dict[str, Any]
) -> None:
    kept = pair["kept"]
    company = add_company(org_a, "Acme Ltd")
    theirs = add_customer(org_b, "Ann Lee")
    before = snapshot(org_a)
    with tenant_context(org_a.pk):
        with pytest.raises(ValidationError, match="cannot be merged with itself"):
            services.customer_merge(organization=org_a, actor=None, source=kept, target=kept)
        with pytest.raises(ValidationError, match="only two people or two companies"):
            services.customer_merge(organization=org_a, actor=None, source=company, target=kept)
        with pytest.raises(ValidationError, match="another organization"):
            services.customer_merge(organization=org_a, actor=None, source=theirs, target=kept)
    assert snapshot(org_a) == before


# --- The compare page -----------------------------------------------------------------------


def test_compare_page_shows_both_side_by_side_with_what_moves(
    client_a: Client, org_a: Organization, pair: dict[str, Any]
) -> None:
    kept, merged = pair["kept"], pair["merged"]
    response = client_a.get(merge_url(org_a, kept, merged))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Kept: " in html and "Merged in and deleted: " in html
    assert "York" in html and "Leeds" in html
    assert 'name="keep_name"' in html and 'name="keep_city"' in html
    assert "Both kept: ann@example.com, ann@work.example" in html
    assert "1 cases" in html or "1 case" in html
    assert "1 tasks" in html or "1 task" in html
    assert "csrfmiddlewaretoken" in html
    assert merge_url(org_a, merged, kept) in html  # "keep the other one instead"


def test_posting_merges_with_the_chosen_values(
    client_a: Client, org_a: Organization, pair: dict[str, Any]
) -> None:
    kept, merged = pair["kept"], pair["merged"]
    response = browser_post(
        client_a, merge_url(org_a, kept, merged), keep_name="source", keep_city="target"
    )
    assert response.status_code == 302
    assert response["Location"] == url("detail", org_a, pk=kept.pk)
    with tenant_context(org_a.pk):
        kept.refresh_from_db()
        assert not Customer.objects.filter(pk=merged.pk).exists()
        assert Task.objects.get(pk=pair["task"].pk).customer_id == kept.pk
    # The street was empty on the kept record: the page preselects the other's.
    assert (kept.name, kept.city, kept.street) == ("Ann Lee-Smith", "York", "2 Low Road")
    page = client_a.get(response["Location"]).content.decode()
    assert "Ann Lee-Smith was merged into Ann Lee-Smith." in page


def test_an_invalid_choice_is_shown_and_changes_nothing(
    client_a: Client, org_a: Organization, pair: dict[str, Any]
) -> None:
    before = snapshot(org_a)
    response = client_a.post(merge_url(org_a, pair["kept"], pair["merged"]), {"keep_name": "x"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert snapshot(org_a) == before


def test_merging_into_itself_is_refused_with_a_clear_error(
    client_a: Client, org_a: Organization, pair: dict[str, Any]
) -> None:
    kept = pair["kept"]
    before = snapshot(org_a)
    for response in (
        client_a.get(merge_url(org_a, kept, kept)),
        client_a.post(merge_url(org_a, kept, kept)),
    ):
        assert response.status_code == 400
        html = response.content.decode()
        assert "A customer cannot be merged with itself." in html
        assert "Nothing was changed." in html
        assert 'type="submit"' not in html.split("<main", 1)[-1]
    assert snapshot(org_a) == before


def test_a_person_and_a_company_cannot_be_merged(
    client_a: Client, org_a: Organization, pair: dict[str, Any]
) -> None:
    company = add_company(org_a, "Acme Ltd")
    before = snapshot(org_a)
    response = client_a.post(merge_url(org_a, pair["kept"], company))
    assert response.status_code == 400
    assert "only two people or two companies can be merged" in response.content.decode()
    assert snapshot(org_a) == before


def test_merging_again_says_it_was_already_merged(
    client_a: Client, org_a: Organization, pair: dict[str, Any]
) -> None:
    kept, merged = pair["kept"], pair["merged"]
    assert browser_post(client_a, merge_url(org_a, kept, merged)).status_code == 302
    before = snapshot(org_a)
    again = client_a.post(merge_url(org_a, kept, merged))
    assert again.status_code == 409
    html = again.content.decode()
    assert "already merged into" in html
    assert url("detail", org_a, pk=kept.pk) in html
    assert snapshot(org_a) == before
    # A merge chain is followed to the customer that still exists.
    other = add_customer(org_a, "Ann L.")
    assert browser_post(client_a, merge_url(org_a, other, kept)).status_code == 302
    html = client_a.get(merge_url(org_a, kept, merged)).content.decode()
    assert url("detail", org_a, pk=other.pk) in html


def test_a_customer_that_never_existed_is_404(
    client_a: Client, org_a: Organization, pair: dict[str, Any]
) -> None:
    assert client_a.get(url("merge", org_a, pk=pair["kept"].pk, other_pk=999999)).status_code == 404


def test_another_organizations_customers_are_404_and_unchanged(
    client_a: Client, org_a: Organization, org_b: Organization, pair: dict[str, Any]
) -> None:
    theirs = add_customer(org_b, "Ann Lee", emails=["ann@example.com"])
    theirs_too = add_customer(org_b, "Ann Lee")
    before_a, before_b = snapshot(org_a), snapshot(org_b)
    cases = [
        merge_url(org_a, pair["kept"], theirs),
        merge_url(org_a, theirs, pair["kept"]),
        url("merge", org_a, pk=theirs.pk, other_pk=theirs_too.pk),
    ]
    for target in cases:
        assert client_a.get(target).status_code == 404
        assert client_a.post(target).status_code == 404
    assert (snapshot(org_a), snapshot(org_b)) == (before_a, before_b)


@pytest.mark.parametrize("role", [Role.SALES, Role.SERVICE, Role.VIEWER])
def test_roles_that_cannot_delete_cannot_merge(
    org_a: Organization, pair: dict[str, Any], role: str
) -> None:
    _, client = member_client(org_a, role)
    before = snapshot(org_a)
    assert client.get(merge_url(org_a, pair["kept"], pair["merged"])).status_code == 403
    assert client.post(merge_url(org_a, pair["kept"], pair["merged"])).status_code == 403
    assert snapshot(org_a) == before


def test_a_manager_can_merge(org_a: Organization, pair: dict[str, Any]) -> None:
    _, client = member_client(org_a, Role.MANAGER)
    assert browser_post(client, merge_url(org_a, pair["kept"], pair["merged"])).status_code == 302


def test_custom_values_are_compared_and_filled_in(client_a: Client, org_a: Organization) -> None:
    add_field(org_a, key="loyalty", label="Loyalty number", field_type="text")
    kept = add_customer(org_a, "Ann Lee")
    merged = add_customer(org_a, "Ann Lee", custom_fields={"loyalty": "L-1"})
    html = client_a.get(merge_url(org_a, kept, merged)).content.decode()
    assert "Loyalty number" in html and "Filled in from the other record." in html
    assert client_a.post(merge_url(org_a, kept, merged)).status_code == 302
    with tenant_context(org_a.pk):
        kept.refresh_from_db()
    assert kept.custom_fields == {"loyalty": "L-1"}


def _with_history(organization: Organization, count: int) -> tuple[Customer, Customer]:
    kept = add_customer(organization, "Ann Lee", emails=["ann@example.com"])
    merged = add_customer(organization, "Ann Lee", emails=["ann@example.com"])
    with tenant_context(organization.pk):
        Interaction.objects.bulk_create(
            [
                Interaction(
                    organization=organization, customer=merged, kind="call", channel="phone"
                )
                for _ in range(count)
            ]
        )
        Task.objects.bulk_create(
            [Task(organization=organization, customer=merged, title="t") for _ in range(count)]
        )
    return kept, merged


# Session, membership, switcher, the two customers, definitions, then one count per relation
# of each customer.
COMPARE_QUERIES = 18
# The same reads, the locks, one update per relation and the audit entries.
MERGE_QUERIES = 35


@pytest.mark.parametrize("count", [5, 15])
def test_compare_page_query_count_does_not_grow(
    client_a: Client, org_a: Organization, count: int, django_assert_max_num_queries: Any
) -> None:
    kept, merged = _with_history(org_a, count)
    with django_assert_max_num_queries(COMPARE_QUERIES):
        response = client_a.get(merge_url(org_a, kept, merged))
    assert f"{count} interactions" in response.content.decode()


@pytest.mark.parametrize("count", [5, 15])
def test_merge_query_count_does_not_grow(
    client_a: Client, org_a: Organization, count: int, django_assert_max_num_queries: Any
) -> None:
    kept, merged = _with_history(org_a, count)
    with django_assert_max_num_queries(MERGE_QUERIES):
        response = client_a.post(merge_url(org_a, kept, merged))
    assert response.status_code == 302
    with tenant_context(org_a.pk):
        assert Interaction.objects.filter(customer=kept).count() == count
