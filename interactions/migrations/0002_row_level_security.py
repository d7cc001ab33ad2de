from django.db import migrations

from crm.rls import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("interactions", "0001_initial"), ("crm", "0002_row_level_security")]

    operations = [
        EnableTenantRLS("product"),
        EnableTenantRLS("interaction"),
        EnableTenantRLS("purchaseline"),
        EnableTenantRLS("casecounter"),
        EnableTenantRLS("case"),
        EnableTenantRLS("task"),
    ]
