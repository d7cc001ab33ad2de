"""Creates the database, runs migrations as the owner and sets up the application's role.

The application role may read and write tenant tables (row-level security decides which rows),
may only insert and read the audit trail, and can run no DDL. Used by `manage.py setup_database`
and by the test suite, so tests run on exactly the rights production has.
"""

from typing import Any

import psycopg2
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from psycopg2 import sql

from crm.db import OWNER_ALIAS

APPEND_ONLY_TABLES = ["crm_auditentry"]

# Operators behind the GIN indexes on customers (full-text search `@@`, and `&&` / `@>` on the
# e-mail, phone and tag arrays). Under row-level security PostgreSQL only uses a condition in an
# index scan when its function is LEAKPROOF; these built-ins are not marked so, which makes
# every search and duplicate check a scan of the whole tenant (measured: 222 ms instead of 5 ms
# on a 100,000-customer tenant). They raise no error that depends on the values compared (text
# arrays compare with text equality, itself leakproof), so marking them reveals nothing that
# the policy hides. Needs a superuser; without one the app works, only slower.
INDEXED_SEARCH_FUNCTIONS = [
    "ts_match_vq(tsvector, tsquery)",
    "arrayoverlap(anyarray, anyarray)",
    "arraycontains(anyarray, anyarray)",
]


def _connect_maintenance() -> Any:
    owner = settings.DATABASES[OWNER_ALIAS]
    connection = psycopg2.connect(
        dbname="postgres",
        user=owner["USER"],
        password=owner["PASSWORD"] or None,
        host=owner["HOST"] or None,
        port=owner["PORT"] or None,
    )
    connection.autocommit = True
    return connection


def ensure_database(name: str) -> bool:
    """Create the database if it does not exist; returns whether it was created."""
    connection = _connect_maintenance()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone():
                return False
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    finally:
        connection.close()


def drop_database(name: str) -> None:
    connection = _connect_maintenance()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        connection.close()


def ensure_app_role() -> None:
    """Create (or reset) the runtime role: login, no superuser, no BYPASSRLS, owns nothing."""
    role = str(settings.DATABASES["default"]["USER"])
    password = str(settings.DATABASES["default"]["PASSWORD"] or "") or None
    with connections[OWNER_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        cursor.execute(
            sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD %s")
            .format(sql.SQL(verb), sql.Identifier(role))
            .as_string(cursor.cursor),
            [password],
        )


def grant_app_role() -> None:
    """Give the runtime role exactly the rights the application needs."""
    role = sql.Identifier(str(settings.DATABASES["default"]["USER"]))
    database = sql.Identifier(str(settings.DATABASES[OWNER_ALIAS]["NAME"]))
    statements = [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM {}").format(role),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            role
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role),
        sql.SQL("REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {}").format(role),
    ]
    for table in APPEND_ONLY_TABLES:
        statements.append(
            sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(
                sql.Identifier(table), role
            )
        )
    with connections[OWNER_ALIAS].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.as_string(cursor.cursor))


def mark_search_functions_leakproof(*, verbosity: int = 1) -> bool:
    """Let row-level-secured queries use the customer GIN indexes; False without a superuser."""
    with connections[OWNER_ALIAS].cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        if not (row and row[0]):
            if verbosity:
                print(
                    "Not a superuser: search and duplicate checks will scan each tenant's "
                    "customers instead of using their indexes (see crm/dbsetup.py)."
                )
            return False
        for function in INDEXED_SEARCH_FUNCTIONS:
            cursor.execute(f"ALTER FUNCTION pg_catalog.{function} LEAKPROOF")
    return True


def setup_database(*, verbosity: int = 1) -> None:
    created = ensure_database(str(settings.DATABASES[OWNER_ALIAS]["NAME"]))
    if created and verbosity:
        print(f"Created database {settings.DATABASES[OWNER_ALIAS]['NAME']}")
    call_command("migrate", database=OWNER_ALIAS, interactive=False, verbosity=verbosity)
    ensure_app_role()
    grant_app_role()
    mark_search_functions_leakproof(verbosity=verbosity)
