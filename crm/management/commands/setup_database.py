from typing import Any

from django.core.management.base import BaseCommand

from crm.dbsetup import setup_database


class Command(BaseCommand):
    help = "Create the database if needed, migrate as the owner, and grant the runtime role."

    def handle(self, *args: Any, **options: Any) -> None:
        setup_database(verbosity=options["verbosity"])
        self.stdout.write(self.style.SUCCESS("Database ready."))
