"""The Celery application and the base class that runs a task inside its tenant."""

import os
from typing import Any

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.dev")

app = Celery("touchpoint")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class TenantTask(Task):
    """A task that takes `organization_id` as a keyword and runs in that tenant's context.

    Its default managers and its database statements are scoped to that organization only.
    """

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from crm.tenancy import tenant_context

        if "organization_id" not in kwargs:
            raise TypeError(f"{self.name} must be called with organization_id=...")
        with tenant_context(organization_id=kwargs["organization_id"]):
            return super().__call__(*args, **kwargs)
