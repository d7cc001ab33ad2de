from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Touchpoint core"

    def ready(self) -> None:
        from crm import db  # noqa: F401  (installs the tenant statement wrapper)
