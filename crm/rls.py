"""Row-level security for tenant-owned tables: the one helper every app's migrations use.

    operations = [..., EnableTenantRLS("customer")]

makes the model's table ENABLE and FORCE row-level security with a policy that lets a statement
see and write only rows of the organization in the transaction's `app.organization_id` setting
(see crm.db). tests/crm/test_rls.py fails for any table with organization_id that lacks it.
"""

from typing import Any

from django.db import migrations

POLICY_NAME = "tenant_isolation"

# Created once, in crm's migrations, before any policy uses them.
CREATE_FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION app_current_organization_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.organization_id', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION app_current_user_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::bigint $$;
"""
DROP_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS app_current_organization_id();
DROP FUNCTION IF EXISTS app_current_user_id();
"""


def enable_sql(table: str) -> str:
    return f"""
ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY;
CREATE POLICY {POLICY_NAME} ON "{table}"
    USING (organization_id = app_current_organization_id())
    WITH CHECK (organization_id = app_current_organization_id());
"""


def disable_sql(table: str) -> str:
    return f"""
DROP POLICY IF EXISTS {POLICY_NAME} ON "{table}";
ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY;
ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY;
"""


class EnableTenantRLS(migrations.operations.base.Operation):
    """Enable and force the tenant isolation policy on a model's table."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.model_name], {})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def _table(self, app_label: str, state: Any) -> str:
        return str(state.apps.get_model(app_label, self.model_name)._meta.db_table)

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        schema_editor.execute(enable_sql(self._table(app_label, to_state)))

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        schema_editor.execute(disable_sql(self._table(app_label, from_state)))

    def describe(self) -> str:
        return f"Enable tenant row-level security on {self.model_name}"
