"""CSV export of the customer list: the rows of the current filters, read in keyset batches.

The columns carry the import's field names (emails, owner_email, custom field keys...), so an
exported file can be imported back and its columns are recognized.
"""

from collections.abc import Iterator
from typing import Any

from crm.models import Organization
from customers import selectors, services
from customers.filters import CustomerFilterSet

COLUMNS = [
    "id",
    "name",
    "kind",
    "company",
    "emails",
    "phones",
    "street",
    "city",
    "postal_code",
    "region",
    "country",
    "lifecycle_stage",
    "owner_email",
    "tags",
    "source",
    "preferred_channel",
    "external_id",
    "created_at",
    "updated_at",
]


def customer_csv_rows(
    *, organization: Organization, filterset: CustomerFilterSet, batch_size: int | None = None
) -> Iterator[list[Any]]:
    """The header, then one row per customer matching the filters (lazily, batch by batch)."""
    definitions = services.custom_field_definitions(organization=organization)
    zone = organization.tzinfo
    yield [*COLUMNS, *(definition.key for definition in definitions)]
    batches = selectors.customer_keyset_batches(
        organization=organization, filterset=filterset, batch_size=batch_size
    )
    for batch in batches:
        for customer in batch:
            custom = customer.custom_fields or {}
            yield [
                customer.pk,
                customer.name,
                customer.kind,
                customer.company.name if customer.company else "",
                "; ".join(customer.emails),
                "; ".join(customer.phones),
                customer.street,
                customer.city,
                customer.postal_code,
                customer.region,
                customer.country,
                customer.lifecycle_stage,
                customer.owner.email if customer.owner else "",
                ", ".join(customer.tags),
                customer.source,
                customer.preferred_channel,
                customer.external_id,
                customer.created_at.astimezone(zone).isoformat(),
                customer.updated_at.astimezone(zone).isoformat(),
                *(custom.get(definition.key, "") for definition in definitions),
            ]
