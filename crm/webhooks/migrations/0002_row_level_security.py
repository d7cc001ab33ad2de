from django.db import migrations

from crm.rls import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial"), ("crm", "0002_row_level_security")]

    operations = [
        EnableTenantRLS("webhookendpoint"),
        EnableTenantRLS("webhookdelivery"),
    ]
