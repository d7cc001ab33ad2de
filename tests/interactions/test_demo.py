"""The demo loader: a catalog and a believable, consistent multi-channel history, fast."""

from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum
from django.utils import timezone

from crm.models import Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import demo as customers_demo
from customers.models import Customer
from interactions.demo import load_demo_interactions
from interactions.models import Case, CaseCounter, Interaction, Kind, Product, PurchaseLine, Task
from interactions.selectors import customer_key_facts
from tests.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_org(org_a: Organization) -> Organization:
    members: dict[str, User] = {role.value: make_member(org_a, role) for role in Role}
    with tenant_context(org_a.pk):
        customers_demo.load(organization=org_a, members=members, seed=7)
        load_demo_interactions(organization=org_a, members=members, seed=7)
    return org_a


def test_the_demo_history_is_believable_and_consistent(
    demo_org: Organization, org_b: Organization
) -> None:
    with tenant_context(demo_org.pk):
        products = Product.objects.all()
        assert 38 <= products.count() <= 42
        assert products.values("category").distinct().count() == 5

        interactions = Interaction.objects.all()
        customers = Customer.objects.count()
        assert interactions.count() > 20 * customers
        kinds = set(interactions.values_list("kind", flat=True).distinct())
        assert {
            Kind.PURCHASE,
            Kind.RETURN,
            Kind.CALL,
            Kind.EMAIL_SENT,
            Kind.EMAIL_OPENED,
            Kind.EMAIL_CLICKED,
            Kind.WEB_VISIT,
            Kind.STORE_VISIT,
            Kind.COMPLAINT,
            Kind.CASE_UPDATE,
            Kind.MEETING,
            Kind.NOTE,
        } <= kinds
        assert not interactions.filter(occurred_at__gt=timezone.now()).exists()

        # Every purchase's amount is the sum of its lines.
        purchases = interactions.filter(kind=Kind.PURCHASE)
        assert purchases.filter(lines__isnull=True).count() == 0
        mismatched = [
            p
            for p in purchases.prefetch_related("lines")
            if p.amount != sum((line.total for line in p.lines.all()), Decimal("0"))
        ]
        assert mismatched == []
        # Repeat buying: many customers bought more than once, and the spread is wide.
        per_customer = list(
            purchases.values("customer").annotate(n=Count("id")).values_list("n", flat=True)
        )
        assert sum(1 for n in per_customer if n > 1) > len(per_customer) / 3
        assert max(per_customer) >= 5
        # Prospects and leads have not bought.
        assert not purchases.filter(customer__lifecycle_stage__in=["prospect", "lead"]).exists()

        # Returns give back lines of the same customer's purchases.
        return_lines = PurchaseLine.objects.filter(interaction__kind=Kind.RETURN).select_related(
            "interaction", "returned_line__interaction"
        )
        assert return_lines.exists()
        for line in return_lines:
            assert line.returned_line is not None
            assert line.returned_line.interaction.customer_id == line.interaction.customer_id
            assert line.returned_line.interaction.occurred_at < line.interaction.occurred_at
        # A few chronic returners stand out against the organization's norm.
        candidates = (
            interactions.values("customer")
            .annotate(
                orders=Count("id", filter=Q(kind=Kind.PURCHASE)),
                returns=Count("id", filter=Q(kind=Kind.RETURN)),
            )
            .filter(orders__gte=3, returns__gte=2)
        )
        flagged = [
            row["customer"]
            for row in candidates
            if customer_key_facts(
                organization=demo_org, customer=Customer.objects.get(pk=row["customer"])
            ).is_frequent_returner
        ]
        assert 1 <= len(flagged) <= customers * 0.1

        # Cases: numbered 1..n with the counter at n, in several statuses, linked to complaints.
        numbers = sorted(Case.objects.values_list("number", flat=True))
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 5
        assert CaseCounter.objects.get().last_number == len(numbers)
        assert Case.objects.values("status").distinct().count() >= 3
        assert Case.objects.filter(interactions__kind=Kind.COMPLAINT).distinct().count() == len(
            numbers
        )
        # Tasks: some open, some done, from calls.
        assert Task.objects.filter(done_at__isnull=True).exists()
        assert Task.objects.filter(done_at__isnull=False).exists()
        assert not Task.objects.filter(interaction__isnull=True).exists()
        assert interactions.filter(kind=Kind.PURCHASE).aggregate(total=Sum("amount"))["total"] > 0
    with tenant_context(org_b.pk):
        assert Interaction.objects.count() == 0 and Product.objects.count() == 0
