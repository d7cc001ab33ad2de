"""Database plumbing for tenant isolation.

Every statement on the application's connection carries the current tenant as transaction-local
settings (set_config(..., true)), so PostgreSQL's row-level security policies see the tenant of
the statement itself: nothing survives on a pooled or reused connection, and a statement with
no tenant in context sees no tenant-owned rows at all.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from crm import tenancy

ORGANIZATION_SETTING = "app.organization_id"
USER_SETTING = "app.user_id"
APP_ALIAS = "default"
OWNER_ALIAS = "owner"


def tenant_settings_sql() -> str:
    """The statement that sets the current tenant for the transaction it runs in."""
    organization_id = tenancy.current_organization_id()
    user_id = tenancy.current_user_id()
    org_value = str(int(organization_id)) if organization_id is not None else ""
    user_value = str(int(user_id)) if user_id is not None else ""
    return (
        f"SELECT set_config('{ORGANIZATION_SETTING}', '{org_value}', true), "
        f"set_config('{USER_SETTING}', '{user_value}', true)"
    )


# Transaction control must run alone: after an error, PostgreSQL accepts nothing but ROLLBACK.
_PASS_THROUGH = ("SAVEPOINT", "ROLLBACK", "RELEASE", "COMMIT", "BEGIN")


def _with_tenant_settings(
    execute: Callable[..., Any], sql: str, params: Sequence[Any] | None, many: bool, context: Any
) -> Any:
    if sql.lstrip()[:10].upper().startswith(_PASS_THROUGH):
        return execute(sql, params, many, context)
    return execute(f"{tenant_settings_sql()}; {sql}", params, many, context)


@receiver(connection_created)
def _install_tenant_wrapper(sender: object, connection: Any, **kwargs: object) -> None:
    if connection.alias == APP_ALIAS and _with_tenant_settings not in connection.execute_wrappers:
        connection.execute_wrappers.append(_with_tenant_settings)


def apply_tenant_settings(using: str = APP_ALIAS) -> None:
    """Set the tenant on the current transaction for raw cursor work (COPY) that skips wrappers."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT 1")


class OwnerMigratesRouter:
    """Schema changes run on the owner connection only; the application role cannot run DDL."""

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        return db == OWNER_ALIAS
