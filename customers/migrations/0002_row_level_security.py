from django.db import migrations

from crm.rls import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial"), ("crm", "0002_row_level_security")]

    operations = [
        EnableTenantRLS("customer"),
        EnableTenantRLS("consentevent"),
        EnableTenantRLS("customfielddefinition"),
    ]
