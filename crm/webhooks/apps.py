from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outgoing webhooks: endpoints an organization's admins register and the deliveries to them."""

    name = "crm.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
