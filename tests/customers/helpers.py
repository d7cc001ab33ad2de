"""Builders for customer tests: they go through the services, inside the organization's tenant."""

from typing import Any

from crm.models import Organization, User
from crm.tenancy import tenant_context
from customers import services
from customers.models import Customer, CustomFieldDefinition


def add_customer(
    organization: Organization, name: str = "Jane Doe", actor: User | None = None, **fields: Any
) -> Customer:
    with tenant_context(organization.pk):
        return services.customer_create(organization=organization, actor=actor, name=name, **fields)


def add_company(organization: Organization, name: str = "Acme Ltd", **fields: Any) -> Customer:
    return add_customer(organization, name, kind=Customer.Kind.COMPANY, **fields)


def add_field(organization: Organization, **fields: Any) -> CustomFieldDefinition:
    with tenant_context(organization.pk):
        return services.custom_field_definition_create(
            organization=organization, actor=None, **fields
        )
