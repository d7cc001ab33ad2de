"""Reads: key facts against hand-counted histories, the organization's return norm, and the
timeline's order, filters, search, keyset paging, company view and tasks."""

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from crm.models import Organization, User
from customers.models import Customer
from interactions import selectors
from interactions.models import Case, Channel, Direction, Kind
from interactions.selectors import (
    ReturnNorm,
    TimelineCursor,
    TimelineFilters,
    customer_key_facts,
    organization_return_norm,
    timeline,
)
from tests.interactions.helpers import (
    add_company,
    add_customer,
    add_interaction,
    add_task,
    ago,
)

pytestmark = pytest.mark.django_db


def buy(customer: Customer, amount: str, days: float) -> None:
    add_interaction(
        customer,
        kind=Kind.PURCHASE,
        channel=Channel.STORE,
        direction=Direction.INBOUND,
        occurred_at=ago(days=days),
        amount=Decimal(amount),
    )


def give_back(customer: Customer, amount: str, days: float) -> None:
    add_interaction(
        customer,
        kind=Kind.RETURN,
        channel=Channel.STORE,
        direction=Direction.INBOUND,
        occurred_at=ago(days=days),
        amount=Decimal(amount),
    )


# --- key facts ------------------------------------------------------------------------------


def test_key_facts_of_a_hand_counted_history(in_org_a: Organization) -> None:
    jane = add_customer(in_org_a)
    other = add_customer(in_org_a, "Other")
    buy(jane, "100.00", 50)
    buy(jane, "50.00", 20)
    buy(jane, "30.00", 5)
    give_back(jane, "30.00", 3)
    add_interaction(
        jane,
        kind=Kind.CALL,
        channel=Channel.PHONE,
        direction=Direction.INBOUND,
        occurred_at=ago(days=60),
    )
    add_interaction(
        jane,
        kind=Kind.EMAIL_SENT,
        channel=Channel.EMAIL,
        direction=Direction.OUTBOUND,
        occurred_at=ago(days=2),
    )
    add_interaction(
        jane,
        kind=Kind.EMAIL_SENT,
        channel=Channel.EMAIL,
        direction=Direction.OUTBOUND,
        occurred_at=ago(days=1),
    )
    # Internal bookkeeping is not contact: a later note and an earlier case update are ignored.
    add_interaction(
        jane,
        kind=Kind.NOTE,
        channel=Channel.OTHER,
        direction=Direction.NONE,
        occurred_at=ago(hours=1),
    )
    add_interaction(
        jane,
        kind=Kind.CASE_UPDATE,
        channel=Channel.OTHER,
        direction=Direction.NONE,
        occurred_at=ago(days=90),
    )
    buy(other, "999.00", 1)
    Case.objects.create(
        organization=in_org_a, number=1, customer=jane, subject="Open", due_at=ago(days=-1)
    )
    Case.objects.create(
        organization=in_org_a,
        number=2,
        customer=jane,
        subject="Done",
        status=Case.Status.CLOSED,
        due_at=ago(days=1),
    )
    add_task(jane)
    add_task(jane, done_at=timezone.now())

    facts = customer_key_facts(organization=in_org_a, customer=jane)

    assert facts.first_contact_at == ago(days=60)
    assert facts.last_contact_at == ago(days=1)
    assert facts.orders == 3
    assert facts.total_spend == Decimal("180.00")
    assert facts.average_spend == Decimal("60.00")
    assert facts.returns == 1
    assert facts.returned_amount == Decimal("30.00")
    assert facts.return_rate == pytest.approx(1 / 3)
    assert (facts.open_cases, facts.open_tasks) == (1, 1)
    last_by_channel = {item.channel: item.last_at for item in facts.channels}
    assert last_by_channel == {
        Channel.EMAIL: ago(days=1),
        Channel.STORE: ago(days=3),
        Channel.PHONE: ago(days=60),
    }
    # Four inbound contacts in store (3 purchases + 1 return) beat one inbound call; the two
    # outbound e-mails do not count as the customer's choice.
    assert facts.top_channel is not None and facts.top_channel.channel == Channel.STORE
    assert facts.top_channel_basis == "inbound"
    assert facts.currency == in_org_a.currency


def test_with_no_inbound_contact_the_most_used_channel_counts_everything(
    in_org_a: Organization,
) -> None:
    jane = add_customer(in_org_a)
    for days in (3, 2):
        add_interaction(
            jane, kind=Kind.EMAIL_SENT, channel=Channel.EMAIL, occurred_at=ago(days=days)
        )
    add_interaction(jane, kind=Kind.CALL, channel=Channel.PHONE, occurred_at=ago(days=1))
    facts = customer_key_facts(organization=in_org_a, customer=jane)
    assert facts.top_channel is not None and facts.top_channel.channel == Channel.EMAIL
    assert facts.top_channel_basis == "all"


def test_key_facts_of_a_customer_with_no_history(in_org_a: Organization) -> None:
    facts = customer_key_facts(organization=in_org_a, customer=add_customer(in_org_a))
    assert facts.first_contact_at is None and facts.last_contact_at is None
    assert facts.orders == 0 and facts.total_spend == Decimal("0")
    assert facts.average_spend is None and facts.return_rate is None
    assert facts.top_channel is None and facts.channels == []
    assert not facts.is_frequent_returner


def test_the_return_norm_threshold() -> None:
    # Rare returns everywhere: the absolute margin decides (5% + 25 points).
    assert ReturnNorm(orders=100, returns=5).frequent_threshold == pytest.approx(0.30)
    # Frequent returns everywhere: twice the norm decides.
    assert ReturnNorm(orders=100, returns=40).frequent_threshold == pytest.approx(0.80)
    assert ReturnNorm(orders=0, returns=0).rate == 0.0


def test_a_frequent_returner_is_flagged_against_the_organizations_norm(
    in_org_a: Organization,
) -> None:
    # The norm: 20 orders elsewhere with 1 return.
    for index in range(4):
        regular = add_customer(in_org_a, f"Regular {index}")
        for day in range(5):
            buy(regular, "10.00", day + 10)
    give_back(regular, "10.00", 1)
    chronic = add_customer(in_org_a, "Chronic")
    for day in range(4):
        buy(chronic, "10.00", day + 10)
    for day in range(2):
        give_back(chronic, "10.00", day + 1)
    # Same return rate (2/2) but too few orders to judge.
    newcomer = add_customer(in_org_a, "Newcomer")
    for day in range(2):
        buy(newcomer, "10.00", day + 10)
        give_back(newcomer, "10.00", day + 1)

    norm = organization_return_norm(organization=in_org_a)
    assert (norm.orders, norm.returns) == (26, 5)
    chronic_facts = customer_key_facts(organization=in_org_a, customer=chronic)
    assert chronic_facts.return_rate == 0.5 > norm.frequent_threshold
    assert chronic_facts.is_frequent_returner
    assert not customer_key_facts(organization=in_org_a, customer=newcomer).is_frequent_returner
    assert not customer_key_facts(organization=in_org_a, customer=regular).is_frequent_returner


def test_the_return_norm_is_one_query_cached_per_organization(
    in_org_a: Organization, org_b: Organization, django_assert_num_queries: object
) -> None:
    jane = add_customer(in_org_a)
    buy(jane, "10.00", 3)
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert organization_return_norm(organization=in_org_a).orders == 1
    buy(jane, "10.00", 2)
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert organization_return_norm(organization=in_org_a).orders == 1  # cached
    cache.delete(selectors._return_norm_key(in_org_a))
    assert organization_return_norm(organization=in_org_a).orders == 2
    assert selectors._return_norm_key(in_org_a) != selectors._return_norm_key(org_b)


def test_key_facts_take_the_same_queries_for_3_or_40_interactions(
    in_org_a: Organization, django_assert_max_num_queries: object
) -> None:
    small, big = add_customer(in_org_a, "Small"), add_customer(in_org_a, "Big")
    for index in range(3):
        add_interaction(small, occurred_at=ago(days=index))
    for index in range(40):
        kind = [Kind.CALL, Kind.PURCHASE, Kind.RETURN, Kind.WEB_VISIT][index % 4]
        add_interaction(
            big, kind=kind, channel=Channel.WEB, occurred_at=ago(days=index), amount=Decimal(5)
        )
    organization_return_norm(organization=in_org_a)  # warm the cache
    for customer in (small, big):
        with django_assert_max_num_queries(3):  # type: ignore[operator]
            customer_key_facts(organization=in_org_a, customer=customer)


def test_a_companys_key_facts_include_its_people(in_org_a: Organization) -> None:
    company = add_company(in_org_a)
    person = add_customer(in_org_a, "Pat", company=company)
    buy(company, "100.00", 5)
    buy(person, "50.00", 4)
    buy(add_customer(in_org_a, "Stranger"), "70.00", 3)
    facts = customer_key_facts(organization=in_org_a, customer=company)
    assert facts.orders == 2 and facts.total_spend == Decimal("150.00")
    assert customer_key_facts(organization=in_org_a, customer=person).orders == 1


# --- timeline -------------------------------------------------------------------------------


def ids(page: selectors.TimelinePage) -> list[tuple[str, int]]:
    return [("task" if entry.is_task else "interaction", entry.item.pk) for entry in page.entries]


def test_the_timeline_is_newest_first_with_tasks_at_their_creation_time(
    in_org_a: Organization,
) -> None:
    jane = add_customer(in_org_a)
    old = add_interaction(jane, occurred_at=ago(days=3))
    task = add_task(jane, created_at=ago(days=2), due_date=datetime.date(2030, 1, 1))
    new = add_interaction(jane, kind=Kind.WEB_VISIT, channel=Channel.WEB, occurred_at=ago(days=1))
    same_time = add_interaction(jane, occurred_at=ago(days=1))
    add_interaction(add_customer(in_org_a, "Other"), occurred_at=ago(days=1))
    page = timeline(organization=in_org_a, customer=jane)
    assert ids(page) == [
        ("interaction", same_time.pk),
        ("interaction", new.pk),
        ("task", task.pk),
        ("interaction", old.pk),
    ]
    assert page.next_cursor is None


def test_the_timeline_filters_by_channel_kind_dates_and_tasks(in_org_a: Organization) -> None:
    jane = add_customer(in_org_a)
    call = add_interaction(jane, kind=Kind.CALL, channel=Channel.PHONE, occurred_at=ago(days=10))
    mail = add_interaction(
        jane, kind=Kind.EMAIL_SENT, channel=Channel.EMAIL, occurred_at=ago(days=5)
    )
    visit = add_interaction(jane, kind=Kind.WEB_VISIT, channel=Channel.WEB, occurred_at=ago(days=1))
    task = add_task(jane, created_at=ago(days=4))

    def run(**filters: Any) -> list[tuple[str, int]]:
        return ids(
            timeline(organization=in_org_a, customer=jane, filters=TimelineFilters(**filters))
        )

    assert run(channel=Channel.EMAIL) == [("interaction", mail.pk)]
    assert run(kind=Kind.CALL) == [("interaction", call.pk)]
    assert run(kind=selectors.TASK_FILTER) == [("task", task.pk)]
    today = timezone.localdate()
    assert run(
        date_from=today - datetime.timedelta(days=6), date_to=today - datetime.timedelta(days=2)
    ) == [("task", task.pk), ("interaction", mail.pk)]
    assert run(date_from=today - datetime.timedelta(days=2)) == [("interaction", visit.pk)]


def test_the_timeline_searches_subjects_bodies_and_task_titles(in_org_a: Organization) -> None:
    jane = add_customer(in_org_a)
    by_subject = add_interaction(jane, subject="Order NW-10234 delayed", occurred_at=ago(days=3))
    by_body = add_interaction(
        jane, body="She asked about order nw-10234 again.", occurred_at=ago(days=2)
    )
    add_interaction(jane, subject="Unrelated", occurred_at=ago(days=1))
    task = add_task(jane, title="Chase NW-10234 with the courier", created_at=ago(hours=1))
    page = timeline(organization=in_org_a, customer=jane, filters=TimelineFilters(q="nw-10234"))
    assert ids(page) == [
        ("task", task.pk),
        ("interaction", by_body.pk),
        ("interaction", by_subject.pk),
    ]


def test_the_timeline_pages_with_a_cursor_without_gaps_or_repeats(in_org_a: Organization) -> None:
    jane = add_customer(in_org_a)
    expected = []
    # Several entries share a timestamp, across interactions and tasks.
    for index in range(12):
        moment = ago(days=index // 3)
        expected.append(("interaction", add_interaction(jane, occurred_at=moment).pk))
        if index % 4 == 0:
            expected.append(("task", add_task(jane, created_at=moment).pk))
    seen: list[tuple[str, int]] = []
    cursor = None
    pages = 0
    while True:
        page = timeline(organization=in_org_a, customer=jane, cursor=cursor, limit=4)
        seen.extend(ids(page))
        pages += 1
        if page.next_cursor is None:
            break
        cursor = TimelineCursor.decode(page.next_cursor)
    assert pages == 4
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen)) == 15
    assert seen == ids(timeline(organization=in_org_a, customer=jane, limit=100))


def test_cursors_round_trip_and_reject_garbage() -> None:
    cursor = TimelineCursor(
        datetime.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=datetime.UTC), 1, 42
    )
    assert TimelineCursor.decode(cursor.encode()) == cursor
    for bad in ("", "abc", "1.2.3", "1.1", "1.1.0"):
        with pytest.raises(ValueError):
            TimelineCursor.decode(bad)


def test_a_companys_timeline_combines_its_people(in_org_a: Organization) -> None:
    company = add_company(in_org_a)
    pat = add_customer(in_org_a, "Pat", company=company)
    own = add_interaction(company, occurred_at=ago(days=3))
    pats = add_interaction(pat, occurred_at=ago(days=2))
    pats_task = add_task(pat, created_at=ago(days=1))
    add_interaction(add_customer(in_org_a, "Stranger"), occurred_at=ago(days=1))
    assert ids(timeline(organization=in_org_a, customer=company)) == [
        ("task", pats_task.pk),
        ("interaction", pats.pk),
        ("interaction", own.pk),
    ]
    # A person's timeline is theirs alone.
    assert ids(timeline(organization=in_org_a, customer=pat)) == [
        ("task", pats_task.pk),
        ("interaction", pats.pk),
    ]


def test_timeline_pages_take_the_same_queries_for_3_or_40_entries(
    in_org_a: Organization, django_assert_max_num_queries: object
) -> None:
    from tests.interactions.helpers import add_product

    product = add_product(in_org_a)
    small, big = add_customer(in_org_a, "Small"), add_customer(in_org_a, "Big")
    for customer, count in ((small, 3), (big, 40)):
        for index in range(count):
            purchase = add_interaction(customer, kind=Kind.PURCHASE, occurred_at=ago(days=index))
            purchase.lines.create(organization=in_org_a, product=product, quantity=1, unit_price=1)
            add_task(customer, created_at=ago(days=index, hours=1))
    for customer in (small, big):
        with django_assert_max_num_queries(3):  # type: ignore[operator]
            page = timeline(organization=in_org_a, customer=customer)
            for entry in page.entries:
                if not entry.is_task:
                    [line.product.name for line in entry.item.lines.all()]  # type: ignore[union-attr]


# --- queue and tasks ------------------------------------------------------------------------


def test_the_case_queue_tabs(in_org_a: Organization, owner_a: User) -> None:
    jane = add_customer(in_org_a)

    def case(number: int, due_days: float, **fields: object) -> Case:
        return Case.objects.create(
            organization=in_org_a,
            number=number,
            customer=jane,
            subject=f"C{number}",
            due_at=ago(days=-due_days),
            **fields,
        )

    mine_late = case(1, -1, assignee=owner_a)
    mine_soon = case(2, 1, assignee=owner_a)
    nobodys = case(3, 2)
    case(4, -5, status=Case.Status.RESOLVED, assignee=owner_a)

    def numbers(tab: str) -> list[int]:
        return [
            c.number for c in selectors.case_queue(organization=in_org_a, user=owner_a, tab=tab)
        ]

    assert numbers("mine") == [mine_late.number, mine_soon.number]
    assert numbers("unassigned") == [nobodys.number]
    assert numbers("overdue") == [mine_late.number]
    assert numbers("open") == [1, 2, 3]
    assert selectors.case_queue_counts(organization=in_org_a, user=owner_a) == {
        "mine": 2,
        "unassigned": 1,
        "overdue": 1,
        "open": 3,
    }


def test_my_tasks_are_overdue_first_then_by_due_date(in_org_a: Organization, owner_a: User) -> None:
    jane = add_customer(in_org_a)
    today = timezone.localdate()
    later = add_task(jane, "Later", assignee=owner_a, due_date=today + datetime.timedelta(days=5))
    undated = add_task(jane, "Someday", assignee=owner_a)
    overdue = add_task(jane, "Late", assignee=owner_a, due_date=today - datetime.timedelta(days=2))
    soon = add_task(jane, "Today", assignee=owner_a, due_date=today)
    done = add_task(jane, "Done", assignee=owner_a, due_date=today, done_at=timezone.now())
    add_task(jane, "Not mine", due_date=today)
    assert list(selectors.my_tasks(organization=in_org_a, user=owner_a)) == [
        overdue,
        soon,
        later,
        undated,
    ]
    assert list(selectors.my_tasks(organization=in_org_a, user=owner_a, done=True)) == [done]
