"""The demo organization `make run` creates once: one member per role, then each app's data."""

from dataclasses import dataclass

from django.db import transaction

from crm.models import Membership, Organization, User
from crm.permissions import Role
from crm.registry import demo_loaders
from crm.tenancy import tenant_context

DEMO_SLUG = "demo"
DEMO_PASSWORD = "touchpoint-demo"
DEMO_DOMAIN = "demo.touchpoint.test"


@dataclass(frozen=True)
class DemoResult:
    organization: Organization
    members: dict[str, User]
    created: bool


def demo_member_email(role: str) -> str:
    return f"{role}@{DEMO_DOMAIN}"


def load_demo(*, seed: int = 7) -> DemoResult:
    """Create the demo organization unless it exists: idempotent, so `make run` always calls it."""
    organization = Organization.objects.filter(slug=DEMO_SLUG).first()
    created = organization is None
    if organization is None:
        with transaction.atomic():
            organization = Organization.objects.create(
                name="Northwind Outfitters",
                slug=DEMO_SLUG,
                timezone="Europe/London",
                currency="GBP",
            )
            with tenant_context(organization.pk):
                members = {}
                for role in Role:
                    user = User.objects.filter(email=demo_member_email(role)).first()
                    if user is None:
                        user = User.objects.create_user(
                            email=demo_member_email(role),
                            password=DEMO_PASSWORD,
                            full_name=f"Demo {role.label}",
                        )
                    Membership.objects.create(organization=organization, user=user, role=role)
                    members[role.value] = user
                for loader in demo_loaders:
                    loader.load(organization=organization, members=members, seed=seed)
    with tenant_context(organization.pk):
        members = {m.role: m.user for m in Membership.objects.select_related("user").order_by("id")}
    return DemoResult(organization=organization, members=members, created=created)
