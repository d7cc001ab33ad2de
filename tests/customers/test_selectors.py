"""Customer selectors: full-text search, filters, ordering, consent state, the detail data."""

import datetime
from typing import Any

import pytest
from django.utils import timezone

from crm.models import Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import selectors, services
from customers.filters import search_tokens, search_tsquery
from customers.models import Channel, ConsentEvent, Customer
from tests.customers.helpers import add_company, add_customer
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def names(organization: Organization, **filters: Any) -> list[str]:
    with tenant_context(organization.pk):
        return [
            customer.name
            for customer in selectors.customer_list(organization=organization, filters=filters)
        ]


@pytest.fixture
def people(org_a: Organization) -> dict[str, Customer]:
    return {
        "john": add_customer(
            org_a,
            "John Smith",
            emails=["john.smith@example.com"],
            phones=["+44 20 7946 0958"],
            tags=["vip"],
        ),
        "jane": add_customer(
            org_a,
            "Jane Doe",
            emails=["jd@mail.example.org"],
            phones=["07700 900123"],
            tags=["newsletter"],
        ),
        "mary": add_customer(org_a, "Mary-Jane O'Neil", emails=["mj+news@example.net"]),
    }


# --- Tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("  John SMITH ", ["john", "smith"]),
        ("John.Smith@Example.com", ["john.smith@example.com"]),
        ("+44 (20) 7946-0958", ["442079460958"]),
        ("smith 0958", ["smith", "0958"]),
        ("o'neil, mary", ["o", "neil", "mary"]),
        ("smith's!!! & | :* (x)", ["smith", "s", "x"]),
        ("john@", ["john"]),
        ("!!! ---", []),
        ("", []),
    ],
)
def test_search_tokens(text: str, tokens: list[str]) -> None:
    assert search_tokens(text) == tokens


def test_tsquery_quotes_every_token_as_a_prefix() -> None:
    assert search_tsquery("John smi") == "'john':* & 'smi':*"
    assert search_tsquery("   ") is None


# --- Search ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("smi", ["John Smith"]),
        ("SMITH jo", ["John Smith"]),
        ("ja", ["Jane Doe", "Mary-Jane O'Neil"]),
        ("mary-ja", ["Mary-Jane O'Neil"]),
        ("o'neil", ["Mary-Jane O'Neil"]),
        ("john.smith@example.com", ["John Smith"]),
        ("john.smith@exa", ["John Smith"]),
        ("john.smi", ["John Smith"]),
        ("mail.example.org", ["Jane Doe"]),
        ("jd@", ["Jane Doe"]),
        ("mj+news@example.net", ["Mary-Jane O'Neil"]),
        ("0958", ["John Smith"]),
        ("7946 0958", ["John Smith"]),
        ("+44 20 7946 0958", ["John Smith"]),
        ("900123", ["Jane Doe"]),
        ("07700", ["Jane Doe"]),
        ("vip", ["John Smith"]),
        ("nobody", []),
        ("!!!", []),
    ],
)
def test_search(
    org_a: Organization, people: dict[str, Customer], query: str, expected: list[str]
) -> None:
    assert names(org_a, q=query) == expected


@pytest.mark.parametrize(
    "query", ["smith' & !", "a:*|b", "\\", "'", "(((", "smith:A", "<->", "é", "x" * 500]
)
def test_search_never_breaks_on_tsquery_syntax(
    org_a: Organization, people: dict[str, Customer], query: str
) -> None:
    names(org_a, q=query)  # no database error


def test_search_finds_a_customer_after_an_update(org_a: Organization) -> None:
    customer = add_customer(org_a, "Old Name")
    with tenant_context(org_a.pk):
        services.customer_update(
            customer=customer, organization=org_a, actor=None, name="Brand New"
        )
    assert names(org_a, q="brand") == ["Brand New"]
    assert names(org_a, q="old") == []


# --- Filters and ordering ------------------------------------------------------------------------


def test_filters(org_a: Organization, owner_a: User) -> None:
    sales = make_member(org_a, Role.SALES)
    company = add_company(org_a, "Harbour & Pine", lifecycle_stage="customer")
    add_customer(org_a, "Ann", lifecycle_stage="lead", owner=sales, tags=["vip"], company=company)
    add_customer(org_a, "Bob", lifecycle_stage="customer", owner=owner_a, tags=["VIP", "news"])
    add_customer(org_a, "Cid", lifecycle_stage="lead")
    assert names(org_a, lifecycle_stage="lead") == ["Ann", "Cid"]
    assert names(org_a, owner=str(sales.pk)) == ["Ann"]
    assert names(org_a, tag="vip") == ["Ann", "Bob"]
    assert names(org_a, tag=" News ") == ["Bob"]
    assert names(org_a, kind="company") == ["Harbour & Pine"]
    assert names(org_a, kind="person", lifecycle_stage="customer") == ["Bob"]
    assert names(org_a, company=str(company.pk)) == ["Ann"]


def test_owner_filter_only_offers_active_members(
    org_a: Organization, org_b: Organization, owner_a: User, owner_b: User
) -> None:
    left = make_member(org_a, Role.SALES)
    with tenant_context(org_a.pk):
        from crm.models import Membership

        Membership.objects.filter(user=left).update(is_active=False)
        filterset = selectors.customer_filterset(organization=org_a, data={"owner": owner_b.pk})
        assert list(filterset.form.fields["owner"].queryset) == [owner_a]
        assert not filterset.is_valid()
        assert "owner" in filterset.errors


def test_ordering(org_a: Organization) -> None:
    now = timezone.now()
    for index, name in enumerate(["bravo", "Alpha", "charlie"]):
        customer = add_customer(org_a, name)
        with tenant_context(org_a.pk):
            Customer.objects.filter(pk=customer.pk).update(
                created_at=now - datetime.timedelta(days=10 - index),
                updated_at=now - datetime.timedelta(days=index),
            )
    assert names(org_a) == ["Alpha", "bravo", "charlie"]
    assert names(org_a, ordering="name") == ["Alpha", "bravo", "charlie"]
    assert names(org_a, ordering="-name") == ["charlie", "bravo", "Alpha"]
    assert names(org_a, ordering="created_at") == ["bravo", "Alpha", "charlie"]
    assert names(org_a, ordering="-created_at") == ["charlie", "Alpha", "bravo"]
    assert names(org_a, ordering="updated_at") == ["charlie", "Alpha", "bravo"]
    assert names(org_a, ordering="-updated_at") == ["bravo", "Alpha", "charlie"]
    assert names(org_a, ordering="search_document") == ["Alpha", "bravo", "charlie"]


# --- Consent -------------------------------------------------------------------------------


def test_current_consent_is_the_latest_event_per_channel(org_a: Organization) -> None:
    customer = add_customer(org_a, "Ann")
    now = timezone.now()
    with tenant_context(org_a.pk):
        for channel, granted, days_ago in [
            (Channel.EMAIL, True, 30),
            (Channel.EMAIL, False, 2),
            (Channel.SMS, False, 40),
            (Channel.SMS, True, 10),
            (Channel.EMAIL, True, 20),
        ]:
            services.consent_record(
                customer=customer,
                organization=org_a,
                actor=None,
                channel=channel,
                granted=granted,
                method=ConsentEvent.Method.FORM,
                occurred_at=now - datetime.timedelta(days=days_ago),
            )
        current = selectors.current_consents(customer=customer)
        assert set(current) == {"email", "sms"}
        assert current["email"].granted is False
        assert current["sms"].granted is True
        history = list(selectors.consent_history(customer=customer))
        assert [event.occurred_at for event in history] == sorted(
            (event.occurred_at for event in history), reverse=True
        )
        assert len(history) == 5
        detail = selectors.customer_detail(organization=org_a, customer=customer)
        states = {state.channel: state.granted for state in detail.consents}
        assert states == {"email": False, "sms": True, "phone": None, "mail": None}


# --- Detail --------------------------------------------------------------------------------


@pytest.mark.parametrize("people_count", [2, 30])
def test_company_detail_lists_its_people_in_bounded_queries(
    org_a: Organization, django_assert_max_num_queries: Any, people_count: int
) -> None:
    company = add_company(org_a, "Harbour & Pine")
    with tenant_context(org_a.pk):
        Customer.objects.bulk_create(
            [
                Customer(organization=org_a, name=f"Person {n:02d}", company=company)
                for n in range(people_count)
            ]
        )
        with django_assert_max_num_queries(5):
            customer = selectors.customer_get(organization=org_a, pk=company.pk)
            assert customer is not None
            detail = selectors.customer_detail(organization=org_a, customer=customer)
    assert detail.people_count == people_count
    assert detail.people[0].name == "Person 00"


def test_people_list_is_capped(org_a: Organization) -> None:
    company = add_company(org_a, "Big Co")
    with tenant_context(org_a.pk):
        Customer.objects.bulk_create(
            [
                Customer(organization=org_a, name=f"P{n:03d}", company=company)
                for n in range(selectors.PEOPLE_SHOWN + 5)
            ]
        )
        detail = selectors.customer_detail(organization=org_a, customer=company)
    assert len(detail.people) == selectors.PEOPLE_SHOWN
    assert detail.people_count == selectors.PEOPLE_SHOWN + 5


def test_search_matches_a_typed_prefix_of_an_email_address(in_org_a: Organization) -> None:
    """The tsquery parser would split "ada@example" into two words; the search must not."""
    from customers.filters import search_customers

    ada = add_customer(in_org_a, "Ada Lovelace", emails=["Ada@Example.com"])
    add_customer(in_org_a, "Charles Babbage", emails=["charles@engine.test"])
    for typed in ("ada@example", "ADA@EX", "example.co", "ada@example.com", "lovel ada"):
        found = search_customers(Customer.objects.all(), typed)
        assert list(found.values_list("pk", flat=True)) == [ada.pk], typed
    assert not search_customers(Customer.objects.all(), "ada@engine").exists()


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_search_and_duplicate_checks_can_use_the_gin_indexes_under_rls(
    transactional_db: None, in_org_a: Organization
) -> None:
    """Row-level security only lets LEAKPROOF operators into index scans: setup_database marks
    the full-text and array operators so, or every search scans the whole tenant."""
    from django.db import connection, connections, transaction

    from customers.filters import search_customers

    add_customer(in_org_a, "Ada Lovelace", emails=["ada@example.com"], tags=["vip"])
    # Enough other customers that an index is the cheap plan once the planner may use it.
    Customer.objects.bulk_create(
        Customer(
            organization=in_org_a,
            name=f"Person {n}",
            emails=[f"person{n}@example.org"],
            search_document=f"person {n} person{n}@example.org",
        )
        for n in range(3000)
    )
    with connections["owner"].cursor() as cursor:  # only the owner may VACUUM
        # VACUUM also merges the GIN indexes' pending lists, which the planner counts as cost.
        cursor.execute("VACUUM ANALYZE customers_customer")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        plans = {
            "search": search_customers(Customer.objects.all(), "lovelace").explain(),
            "emails": Customer.objects.filter(emails__overlap=["ada@example.com"]).explain(),
        }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname FROM pg_proc WHERE proleakproof AND proname IN "
            "('ts_match_vq', 'arrayoverlap', 'arraycontains') ORDER BY proname"
        )
        marked = [name for (name,) in cursor.fetchall()]
    assert marked == ["arraycontains", "arrayoverlap", "ts_match_vq"]
    assert "customer_search_idx" in plans["search"], plans["search"]
    assert "customer_emails_idx" in plans["emails"], plans["emails"]
