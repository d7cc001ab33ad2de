"""The product catalog: SKUs unique per organization, audited changes."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from crm.models import Organization, User
from crm.services import audit_create, audit_snapshot, audit_update
from interactions.models import (
    Product,
)
from interactions.services.common import check_length

PRODUCT_FIELDS = ("sku", "name", "category", "price", "active")


def _validate_product(
    organization: Organization, values: dict[str, Any], exclude_pk: int | None
) -> None:
    errors: dict[str, str] = {}
    sku = values["sku"]
    if not sku:
        errors["sku"] = "Give the product a SKU."
    check_length(errors, "sku", sku, 64)
    if not values["name"]:
        errors["name"] = "Give the product a name."
    check_length(errors, "name", values["name"], 200)
    check_length(errors, "category", values["category"], 100)
    if values["price"] is None or values["price"] < 0:
        errors["price"] = "The price must be zero or more."
    if (
        "sku" not in errors
        and Product.objects.filter(organization=organization, sku=sku)
        .exclude(pk=exclude_pk)
        .exists()
    ):
        errors["sku"] = f"Another product already has the SKU {sku}."
    if errors:
        raise ValidationError(errors)


def product_create(
    *,
    organization: Organization,
    actor: User | None,
    sku: str,
    name: str,
    price: Decimal,
    category: str = "",
    active: bool = True,
) -> Product:
    """Add a product to the catalog; SKUs are unique in the organization."""
    values = {
        "sku": sku.strip(),
        "name": name.strip(),
        "category": category.strip(),
        "price": price,
        "active": active,
    }
    _validate_product(organization, values, exclude_pk=None)
    with transaction.atomic():
        product = Product.objects.create(organization=organization, **values)
        audit_create(organization=organization, actor=actor, instance=product)
    return product


def product_update(
    *, organization: Organization, actor: User | None, product: Product, **changes: Any
) -> Product:
    """Change a product's SKU, name, category, price or whether it is sold (active)."""
    unknown = set(changes) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    if product.organization_id != organization.pk:
        raise ValidationError({"product": "Choose a product of this organization."})
    values = {name: getattr(product, name) for name in PRODUCT_FIELDS}
    for name, value in changes.items():
        values[name] = value.strip() if isinstance(value, str) else value
    _validate_product(organization, values, exclude_pk=product.pk)
    with transaction.atomic():
        before = audit_snapshot(product, PRODUCT_FIELDS)
        for name in changes:
            setattr(product, name, values[name])
        product.save(update_fields=list(changes))
        audit_update(organization=organization, actor=actor, instance=product, before=before)
    return product
