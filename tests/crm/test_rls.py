"""Isolation enforced by PostgreSQL itself, under the application's runtime role."""

import pytest
from django.db import connection, connections, transaction
from django.db.utils import ProgrammingError

from crm.models import Organization
from crm.tenancy import TenantNotSetError, tenant_context
from customers.models import Customer

pytestmark = pytest.mark.django_db


def tenant_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.table_name FROM information_schema.columns c
            JOIN information_schema.tables t
              ON t.table_name = c.table_name AND t.table_schema = c.table_schema
            WHERE c.table_schema = 'public' AND c.column_name = 'organization_id'
              AND t.table_type = 'BASE TABLE'
            ORDER BY 1
            """
        )
        return [row[0] for row in cursor.fetchall()]


def add_customer(organization: Organization, name: str) -> Customer:
    with tenant_context(organization.pk):
        return Customer.objects.create(organization=organization, name=name)


def test_the_app_runs_as_a_role_that_cannot_bypass_rls() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        user, is_superuser, bypasses_rls = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )
        owned_tables = cursor.fetchone()[0]
    assert user == "touchpoint_app"
    assert not is_superuser
    assert not bypasses_rls
    assert owned_tables == 0


def test_every_tenant_table_has_forced_rls_with_a_policy() -> None:
    tables = tenant_tables()
    assert "customers_customer" in tables and "crm_membership" in tables
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
            WHERE c.relname = ANY(%s) AND c.relrowsecurity AND c.relforcerowsecurity
              AND EXISTS (SELECT 1 FROM pg_policies p
                          WHERE p.tablename = c.relname AND p.policyname = 'tenant_isolation')
            """,
            [tables],
        )
        protected = {row[0] for row in cursor.fetchall()}
    assert set(tables) - protected == set()


# Indexes allowed not to lead with organization_id, each for a stated reason.
INDEX_EXCEPTIONS = {
    # A signed-in user's memberships across organizations (the organization switcher).
    "membership_user_idx",
}


def test_tenant_unique_constraints_and_indexes_start_with_organization() -> None:
    tables = tenant_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ic.relname, a.attname, am.amname, i.indisunique
            FROM pg_index i
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_am am ON am.oid = ic.relam
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
            WHERE t.relname = ANY(%s) AND NOT i.indisprimary
            """,
            [tables],
        )
        rows = cursor.fetchall()
    assert rows, "expected indexes on tenant tables"
    # GIN (full-text, arrays) cannot lead with organization_id without btree_gin, which the
    # embedded PostgreSQL does not ship; the planner combines them with the btree indexes.
    offenders = [
        name
        for name, first_column, method, _unique in rows
        if first_column != "organization_id" and method != "gin" and name not in INDEX_EXCEPTIONS
    ]
    assert offenders == []


def test_a_raw_query_without_tenant_sees_no_rows(org_a: Organization) -> None:
    add_customer(org_a, "Alice")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        assert cursor.fetchone()[0] == 0
    with tenant_context(org_a.pk), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        assert cursor.fetchone()[0] == 1


def test_the_default_manager_fails_closed_without_tenant(org_a: Organization) -> None:
    with pytest.raises(TenantNotSetError):
        Customer.objects.count()


def test_tenant_b_cannot_read_change_or_delete_tenant_a_rows(
    org_a: Organization, org_b: Organization
) -> None:
    alice = add_customer(org_a, "Alice")
    with tenant_context(org_b.pk):
        assert Customer.objects.filter(pk=alice.pk).count() == 0
        # Even the explicit cross-tenant manager sees nothing: the database refuses.
        assert Customer.all_tenants.filter(pk=alice.pk).count() == 0
        assert Customer.all_tenants.filter(pk=alice.pk).update(name="Hacked") == 0
        assert Customer.all_tenants.filter(pk=alice.pk).delete()[0] == 0
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            Customer.all_tenants.create(organization=org_a, name="Planted")
    with tenant_context(org_a.pk):
        assert Customer.objects.get(pk=alice.pk).name == "Alice"
        assert Customer.objects.count() == 1


def test_a_reused_connection_sees_only_the_next_tenants_rows(
    org_a: Organization, org_b: Organization
) -> None:
    add_customer(org_a, "Alice")
    add_customer(org_b, "Bob")
    backend_pids = set()
    for organization, expected in ((org_a, ["Alice"]), (org_b, ["Bob"]), (org_a, ["Alice"])):
        with tenant_context(organization.pk), connection.cursor() as cursor:
            cursor.execute("SELECT name FROM customers_customer ORDER BY name")
            assert [row[0] for row in cursor.fetchall()] == expected
            cursor.execute("SELECT pg_backend_pid()")
            backend_pids.add(cursor.fetchone()[0])
    assert len(backend_pids) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.organization_id', true)")
        assert cursor.fetchone()[0] in ("", None)


def test_the_audit_trail_is_append_only_for_the_app(org_a: Organization) -> None:
    from crm.models import AuditEntry

    with tenant_context(org_a.pk):
        entry = AuditEntry.objects.create(
            organization=org_a, action="create", object_type="x", object_id="1", object_repr="x"
        )
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            AuditEntry.objects.filter(pk=entry.pk).update(object_repr="changed")
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            AuditEntry.objects.filter(pk=entry.pk).delete()
        assert AuditEntry.objects.get(pk=entry.pk).object_repr == "x"


def test_owner_connection_is_not_used_by_the_app() -> None:
    assert connections["default"].settings_dict["USER"] == "touchpoint_app"
