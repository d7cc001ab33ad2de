"""The demo loader fills one organization with believable customers, and only that one."""

import pytest

from crm.models import Membership, Organization, User
from crm.permissions import Role
from crm.registry import demo_loaders
from crm.tenancy import tenant_context
from customers import demo
from customers.filters import search_customers
from customers.models import ConsentEvent, Customer, CustomFieldDefinition
from customers.services import build_search_document, validate_custom_fields
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def members_of(organization: Organization) -> dict[str, User]:
    return {role.value: make_member(organization, role) for role in Role}


def test_the_loader_is_registered() -> None:
    loader = next(loader for loader in demo_loaders if loader.key == "customers")
    assert loader.load is demo.load
    assert loader.order == 10


def test_demo_customers_are_created_in_their_organization_only(
    org_a: Organization, org_b: Organization
) -> None:
    members = members_of(org_a)
    with tenant_context(org_a.pk):
        demo.load(organization=org_a, members=members, seed=7)
        customers = list(Customer.objects.select_related("company"))
        assert len(customers) == demo.PEOPLE + 12  # a few thousand, as the issue asks
        companies = [c for c in customers if c.kind == Customer.Kind.COMPANY]
        assert len(companies) == 12
        assert sum(1 for c in customers if c.company_id) >= 300
        assert all(c.company is None or c.company.kind == "company" for c in customers)
        assert {c.lifecycle_stage for c in customers} == {
            "prospect",
            "lead",
            "customer",
            "inactive",
        }
        allowed_owners = {members[role].pk for role in ("sales", "service", "manager")}
        owners = {c.owner_id for c in customers if c.owner_id}
        assert owners and owners <= allowed_owners
        assert {"vip", "newsletter", "wholesale"} <= {tag for c in customers for tag in c.tags}
        for customer in customers:
            assert customer.search_document == build_search_document(
                name=customer.name,
                emails=customer.emails,
                phones=customer.phones,
                tags=customer.tags,
            )
            assert len(set(customer.emails)) == len(customer.emails)
        definitions = list(CustomFieldDefinition.objects.all())
        assert {d.key for d in definitions} == {"loyalty_number", "birthday"}
        for customer in customers:
            validate_custom_fields(
                organization=org_a, values=customer.custom_fields, definitions=definitions
            )
        assert ConsentEvent.objects.count() > 100
        assert Membership.objects.count() == len(Role)
        # The search index works on demo data: a phone's last four digits find its owner.
        person = next(c for c in customers if c.phones)
        matches = search_customers(Customer.objects.all(), person.phones[0][-4:])
        assert person.pk in set(matches.values_list("pk", flat=True))
    with tenant_context(org_b.pk):
        assert Customer.objects.count() == 0
        assert Customer.all_tenants.count() == 0
        assert CustomFieldDefinition.objects.count() == 0


def test_the_same_seed_gives_the_same_customers(org_a: Organization, org_b: Organization) -> None:
    names = []
    for organization in (org_a, org_b):
        with tenant_context(organization.pk):
            demo.load(organization=organization, members=members_of(organization), seed=3)
            names.append(list(Customer.objects.order_by("name").values_list("name", "emails")))
    assert names[0] == names[1]
