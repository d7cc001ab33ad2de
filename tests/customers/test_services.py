"""Customer services: normalization, validation naming the field, tenancy rules, audit."""

import datetime
import decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import AuditEntry, Membership, Organization, User
from crm.permissions import Role
from crm.tenancy import tenant_context
from customers import services
from customers.models import Channel, ConsentEvent, Customer, CustomFieldDefinition
from tests.customers.helpers import add_company, add_customer, add_field
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return excinfo.value.message_dict


# --- Normalization ---------------------------------------------------------------------------


def test_create_normalizes_emails_phones_and_tags(in_org_a: Organization, owner_a: User) -> None:
    customer = services.customer_create(
        organization=in_org_a,
        actor=owner_a,
        name="  John Smith ",
        emails=[" John.Smith@Example.COM ", "john.smith@example.com", "", "js@work.example"],
        phones=["+1 (415) 555-0123", "+1.415.555.0123", "020 7946 0958"],
        tags=" VIP, newsletter ,vip,, ",
    )
    customer.refresh_from_db()
    assert customer.name == "John Smith"
    assert customer.emails == ["john.smith@example.com", "js@work.example"]
    assert customer.phones == ["+14155550123", "02079460958"]
    assert customer.tags == ["vip", "newsletter"]
    assert customer.primary_email == "john.smith@example.com"
    assert customer.organization_id == in_org_a.pk


def test_search_document_holds_name_emails_tags_and_phone_suffixes(in_org_a: Organization) -> None:
    customer = services.customer_create(
        organization=in_org_a,
        actor=None,
        name="John Smith",
        emails=["John.Smith@Example.com"],
        phones=["+44 20 7946 0958"],
        tags=["VIP"],
    )
    words = customer.search_document.split()
    assert words[:2] == ["john", "smith"]
    assert words[2:5] == ["john.smith@example.com", "john.smith", "example.com"]
    assert "442079460958" in words and "0958" in words and "60958" in words
    assert "958" not in words  # suffixes start at 4 digits
    assert "vip" in words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (415) 555-0123", "+14155550123"),
        ("0161.496.0000", "01614960000"),
        ("  07700 900123 ", "07700900123"),
        ("123456", "123456"),
        ("+123456789012345", "+123456789012345"),
    ],
)
def test_phone_normalization(raw: str, expected: str) -> None:
    assert services.normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "+1234567890123456", "call me", "555-CALL-NOW", "+4 4x"])
def test_invalid_phones_are_rejected(raw: str) -> None:
    with pytest.raises(ValidationError):
        services.normalize_phone(raw)


# --- Validation ------------------------------------------------------------------------------


def test_errors_name_every_bad_field_and_nothing_is_saved(in_org_a: Organization) -> None:
    with pytest.raises(ValidationError) as excinfo:
        services.customer_create(
            organization=in_org_a,
            actor=None,
            name="  ",
            emails=["not-an-email"],
            phones=["12"],
            country="Britain",
            lifecycle_stage="hot",
            preferred_channel="pigeon",
        )
    errors = errors_of(excinfo)
    assert set(errors) >= {
        "name",
        "emails",
        "phones",
        "country",
        "lifecycle_stage",
        "preferred_channel",
    }
    assert "not-an-email" in errors["emails"][0]
    assert "6 to 15 digits" in errors["phones"][0]
    assert Customer.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_unknown_customer_field_is_a_programming_error(in_org_a: Organization) -> None:
    with pytest.raises(TypeError, match="colour"):
        services.customer_create(organization=in_org_a, actor=None, name="X", colour="red")


def test_external_id_is_unique_per_organization(org_a: Organization, org_b: Organization) -> None:
    add_customer(org_a, "First", external_id="EXT-1")
    add_customer(org_b, "Other org", external_id="EXT-1")  # another organization: fine
    with pytest.raises(ValidationError) as excinfo:
        add_customer(org_a, "Second", external_id="EXT-1")
    assert "external_id" in errors_of(excinfo)


# --- Company and owner rules -----------------------------------------------------------------------


def test_a_person_can_belong_to_a_company_of_the_same_organization(org_a: Organization) -> None:
    company = add_company(org_a, "Harbour & Pine")
    person = add_customer(org_a, "Ann Lee", company=company.pk)
    assert person.company_id == company.pk


def test_company_of_another_organization_is_rejected(
    org_a: Organization, org_b: Organization
) -> None:
    foreign = add_company(org_b, "Bravo Corp")
    with pytest.raises(ValidationError) as excinfo:
        add_customer(org_a, "Ann Lee", company=foreign.pk)
    assert errors_of(excinfo) == {"company": ["Choose a company of this organization."]}
    with tenant_context(org_a.pk):
        assert Customer.objects.count() == 0


def test_company_must_be_a_company_and_not_in_a_company(org_a: Organization) -> None:
    person = add_customer(org_a, "Ann Lee")
    company = add_company(org_a, "Harbour & Pine")
    with pytest.raises(ValidationError) as excinfo:
        add_customer(org_a, "Bob", company=person.pk)
    assert "is a person" in errors_of(excinfo)["company"][0]
    with pytest.raises(ValidationError) as excinfo:
        add_company(org_a, "Subsidiary", company=company.pk)
    assert "cannot belong to another company" in errors_of(excinfo)["company"][0]
    with tenant_context(org_a.pk), pytest.raises(ValidationError) as excinfo:
        services.customer_update(
            customer=company, organization=org_a, actor=None, company=company.pk
        )
    assert "cannot belong to itself" in errors_of(excinfo)["company"][0]


def test_a_company_with_people_cannot_become_a_person(org_a: Organization) -> None:
    company = add_company(org_a, "Harbour & Pine")
    add_customer(org_a, "Ann Lee", company=company)
    with tenant_context(org_a.pk), pytest.raises(ValidationError) as excinfo:
        services.customer_update(
            customer=company, organization=org_a, actor=None, kind=Customer.Kind.PERSON
        )
    assert "kind" in errors_of(excinfo)


def test_owner_must_be_an_active_member(
    org_a: Organization, org_b: Organization, owner_a: User, owner_b: User
) -> None:
    sales = make_member(org_a, Role.SALES)
    assert add_customer(org_a, "Owned", owner=sales).owner_id == sales.pk
    outsider = make_user()
    for bad_owner in (owner_b, outsider, outsider.pk, "not-a-number"):
        with pytest.raises(ValidationError) as excinfo:
            add_customer(org_a, "Bad owner", owner=bad_owner)
        assert "active member" in errors_of(excinfo)["owner"][0]
    with tenant_context(org_a.pk):
        Membership.objects.filter(user=sales).update(is_active=False)
    with pytest.raises(ValidationError):
        add_customer(org_a, "Left", owner=sales)


def test_keeping_an_owner_who_left_is_allowed_but_not_assigning_one(
    org_a: Organization, owner_a: User
) -> None:
    sales = make_member(org_a, Role.SALES)
    customer = add_customer(org_a, "Kept", owner=sales)
    other = add_customer(org_a, "Other")
    with tenant_context(org_a.pk):
        Membership.objects.filter(user=sales).update(is_active=False)
        services.customer_update(
            customer=customer, organization=org_a, actor=owner_a, owner=sales.pk, name="Kept 2"
        )
        assert Customer.objects.get(pk=customer.pk).owner_id == sales.pk
        with pytest.raises(ValidationError):
            services.customer_update(customer=other, organization=org_a, actor=owner_a, owner=sales)


# --- Custom fields ---------------------------------------------------------------------------------


@pytest.fixture
def definitions(org_a: Organization) -> list[CustomFieldDefinition]:
    return [
        add_field(org_a, key="loyalty", label="Loyalty number", field_type="text"),
        add_field(org_a, key="spend", label="Annual spend", field_type="number"),
        add_field(org_a, key="birthday", label="Birthday", field_type="date"),
        add_field(
            org_a,
            key="size",
            label="Shoe size",
            field_type="choice",
            choices=["S", "M", "L"],
            required=True,
        ),
    ]


def test_custom_values_are_validated_and_stored_in_canonical_form(
    org_a: Organization, definitions: list[CustomFieldDefinition]
) -> None:
    customer = add_customer(
        org_a,
        custom_fields={
            "loyalty": "  NW123 ",
            "spend": decimal.Decimal("1250.50"),
            "birthday": datetime.date(1990, 4, 1),
            "size": "M",
        },
    )
    assert customer.custom_fields == {
        "loyalty": "NW123",
        "spend": "1250.50",
        "birthday": "1990-04-01",
        "size": "M",
    }
    other = add_customer(
        org_a, custom_fields={"spend": "1E+3", "birthday": "2001-12-31", "size": "S"}
    )
    assert other.custom_fields["spend"] == "1000"


@pytest.mark.parametrize(
    ("values", "key", "message"),
    [
        ({"size": "M", "loyalty": "x" * 501}, "loyalty", "at most 500"),
        ({"size": "M", "spend": "lots"}, "spend", "number"),
        ({"size": "M", "spend": "NaN"}, "spend", "number"),
        ({"size": "M", "spend": True}, "spend", "number"),
        ({"size": "M", "birthday": "01/04/1990"}, "birthday", "YYYY-MM-DD"),
        ({"size": "M", "birthday": "1990-02-30"}, "birthday", "real date"),
        ({"size": "XL"}, "size", "not one of the choices"),
        ({"loyalty": "NW1"}, "size", "required"),
        ({"size": ""}, "size", "required"),
        ({"size": "M", "colour": "red"}, "colour", "Unknown custom field"),
    ],
)
def test_bad_custom_values_name_the_field(
    org_a: Organization,
    definitions: list[CustomFieldDefinition],
    values: dict[str, object],
    key: str,
    message: str,
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        add_customer(org_a, custom_fields=values)
    errors = errors_of(excinfo)
    assert list(errors) == [f"custom_fields.{key}"]
    assert message in errors[f"custom_fields.{key}"][0]


def test_definitions_reject_duplicate_keys_and_choice_without_choices(org_a: Organization) -> None:
    add_field(org_a, key="loyalty", label="Loyalty", field_type="text")
    with pytest.raises(ValidationError) as excinfo:
        add_field(org_a, key="loyalty", label="Again", field_type="text")
    assert "already exists" in errors_of(excinfo)["key"][0]
    with pytest.raises(ValidationError) as excinfo:
        add_field(org_a, key="size", label="Size", field_type="choice", choices=[])
    assert "choices" in errors_of(excinfo)
    derived = add_field(org_a, label="Favourite Store", field_type="text")
    assert derived.key == "favourite_store"
    assert derived.position == 1  # appended after the first


def test_definition_keys_are_per_organization(org_a: Organization, org_b: Organization) -> None:
    add_field(org_a, key="loyalty", label="Loyalty", field_type="text")
    assert add_field(org_b, key="loyalty", label="Loyalty", field_type="text").pk


def test_changing_a_type_must_fit_stored_values(org_a: Organization) -> None:
    definition = add_field(org_a, key="code", label="Code", field_type="text")
    add_customer(org_a, custom_fields={"code": "ABC"})
    with tenant_context(org_a.pk):
        with pytest.raises(ValidationError) as excinfo:
            services.custom_field_definition_update(
                definition=definition, organization=org_a, actor=None, field_type="number"
            )
        assert "1 customer(s)" in errors_of(excinfo)["field_type"][0]
        with pytest.raises(ValidationError) as excinfo:
            services.custom_field_definition_update(
                definition=CustomFieldDefinition.objects.get(pk=definition.pk),
                organization=org_a,
                actor=None,
                key="renamed",
            )
        assert "key" in errors_of(excinfo)
        assert CustomFieldDefinition.objects.get(pk=definition.pk).field_type == "text"


def test_deleting_a_definition_removes_its_values(org_a: Organization) -> None:
    definition = add_field(org_a, key="code", label="Code", field_type="text")
    add_field(org_a, key="keep", label="Keep", field_type="text")
    customer = add_customer(org_a, custom_fields={"code": "ABC", "keep": "yes"})
    with tenant_context(org_a.pk):
        removed = services.custom_field_definition_delete(
            definition=definition, organization=org_a, actor=None
        )
        assert removed == 1
        customer.refresh_from_db()
        assert customer.custom_fields == {"keep": "yes"}
        assert AuditEntry.objects.filter(
            action="delete", object_type="customers.customfielddefinition"
        ).exists()


# --- Audit ---------------------------------------------------------------------------------------


def test_create_update_delete_are_audited_with_before_and_after(
    in_org_a: Organization, owner_a: User
) -> None:
    customer = services.customer_create(
        organization=in_org_a, actor=owner_a, name="Ann Lee", emails=["ann@example.com"]
    )
    created = AuditEntry.objects.get(object_type="customers.customer", action="create")
    assert created.actor_id == owner_a.pk
    assert created.object_id == str(customer.pk)
    assert created.changes["name"] == [None, "Ann Lee"]
    assert created.changes["emails"] == [None, ["ann@example.com"]]

    before_update = customer.updated_at
    services.customer_update(
        customer=customer,
        organization=in_org_a,
        actor=owner_a,
        name="Ann Lee-Smith",
        emails=["ann@example.com"],
    )
    updated = AuditEntry.objects.get(object_type="customers.customer", action="update")
    assert updated.changes == {"name": ["Ann Lee", "Ann Lee-Smith"]}
    customer.refresh_from_db()
    assert customer.updated_at > before_update
    assert customer.search_document.startswith("ann lee-smith")

    services.customer_delete(customer=customer, organization=in_org_a, actor=owner_a)
    deleted = AuditEntry.objects.get(object_type="customers.customer", action="delete")
    assert deleted.changes["name"] == ["Ann Lee-Smith", None]
    assert not Customer.objects.filter(pk=customer.pk).exists()


def test_an_update_that_changes_nothing_records_nothing(in_org_a: Organization) -> None:
    customer = services.customer_create(organization=in_org_a, actor=None, name="Same")
    services.customer_update(customer=customer, organization=in_org_a, actor=None, name="Same")
    assert not AuditEntry.objects.filter(action="update").exists()


def test_deleting_a_company_unlinks_its_people_with_audit(org_a: Organization) -> None:
    company = add_company(org_a, "Harbour & Pine")
    company_id = company.pk
    person = add_customer(org_a, "Ann Lee", company=company)
    with tenant_context(org_a.pk):
        services.customer_delete(customer=company, organization=org_a, actor=None)
        person.refresh_from_db()
        assert person.company_id is None
        entry = AuditEntry.objects.get(object_id=str(person.pk), action="update")
        assert entry.changes == {"company": [company_id, None]}


def test_services_refuse_another_organizations_customer(
    org_a: Organization, org_b: Organization
) -> None:
    customer = add_customer(org_a, "Ann")
    with tenant_context(org_b.pk), pytest.raises(ValidationError):
        services.customer_update(customer=customer, organization=org_b, actor=None, name="X")


# --- Consent -------------------------------------------------------------------------------------


def test_consent_changes_are_appended_and_audited(in_org_a: Organization, owner_a: User) -> None:
    customer = services.customer_create(organization=in_org_a, actor=owner_a, name="Ann")
    earlier = timezone.now() - datetime.timedelta(days=3)
    services.consent_record(
        customer=customer,
        organization=in_org_a,
        actor=owner_a,
        channel=Channel.EMAIL,
        granted=True,
        method=ConsentEvent.Method.FORM,
        occurred_at=earlier,
    )
    services.consent_record(
        customer=customer,
        organization=in_org_a,
        actor=owner_a,
        channel=Channel.EMAIL,
        granted=False,
        method=ConsentEvent.Method.VERBAL,
        note="  Asked on the phone ",
    )
    events = list(ConsentEvent.objects.filter(customer=customer).order_by("occurred_at"))
    assert [(e.granted, e.method) for e in events] == [(True, "form"), (False, "verbal")]
    assert events[1].note == "Asked on the phone"
    assert events[1].recorded_by_id == owner_a.pk
    audits = AuditEntry.objects.filter(object_type="customers.consentevent", action="create")
    assert audits.count() == 2
    assert audits.filter(changes__granted=[None, False]).exists()


def test_bad_consent_names_the_field(in_org_a: Organization) -> None:
    customer = services.customer_create(organization=in_org_a, actor=None, name="Ann")
    with pytest.raises(ValidationError) as excinfo:
        services.consent_record(
            customer=customer,
            organization=in_org_a,
            actor=None,
            channel="pigeon",
            granted=True,
            method="telepathy",
            occurred_at=timezone.now() + datetime.timedelta(days=1),
        )
    assert set(errors_of(excinfo)) == {"channel", "method", "occurred_at"}
    assert ConsentEvent.objects.count() == 0


def test_a_failed_update_leaves_the_instance_as_it_was(org_a: Organization) -> None:
    customer = add_customer(org_a, "Ann", emails=["ann@example.com"], tags=["vip"])
    with tenant_context(org_a.pk), pytest.raises(ValidationError):
        services.customer_update(
            customer=customer, organization=org_a, actor=None, name="New", emails=["bad"], tags=""
        )
    assert (customer.name, customer.emails, customer.tags) == ("Ann", ["ann@example.com"], ["vip"])
