from typing import Any

from django.core.management.base import BaseCommand

from crm.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Create the demo organization (once) and print how to sign in."

    def handle(self, *args: Any, **options: Any) -> None:
        result = load_demo()
        verb = "Created" if result.created else "Using existing"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} demo organization {result.organization.name!r} "
                f"(/{result.organization.slug}/)"
            )
        )
        self.stdout.write(f"Sign in with any of these (password: {DEMO_PASSWORD}):")
        for role, user in result.members.items():
            self.stdout.write(f"  {role:<8} {user.email}")
