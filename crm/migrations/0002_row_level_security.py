from django.db import migrations

from crm.rls import CREATE_FUNCTIONS_SQL, DROP_FUNCTIONS_SQL, EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [
        migrations.RunSQL(CREATE_FUNCTIONS_SQL, DROP_FUNCTIONS_SQL),
        EnableTenantRLS("membership"),
        EnableTenantRLS("invitation"),
        EnableTenantRLS("auditentry"),
        # A signed-in user may read their own memberships in every organization (the switcher).
        migrations.RunSQL(
            "CREATE POLICY own_memberships ON crm_membership FOR SELECT "
            "USING (user_id = app_current_user_id());",
            "DROP POLICY IF EXISTS own_memberships ON crm_membership;",
        ),
    ]
