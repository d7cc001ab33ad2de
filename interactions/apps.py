from django.apps import AppConfig


class InteractionsConfig(AppConfig):
    name = "interactions"
    verbose_name = "Interactions"

    def ready(self) -> None:
        """Plug the panels, the demo data and the CSV importer into the lower apps' registries."""
        from crm.registry import (
            DemoLoader,
            customer_panels,
            demo_loaders,
            register_customer_panel,
            register_demo_loader,
        )
        from interactions import importers
        from interactions.demo import load_demo_interactions
        from interactions.panels import PANELS

        # ready() can run twice under some runners; register once.
        registered = {panel.key for panel in customer_panels}
        for panel in PANELS:
            if panel.key not in registered:
                register_customer_panel(panel)
        if not any(loader.key == "interactions" for loader in demo_loaders):
            register_demo_loader(
                DemoLoader(key="interactions", load=load_demo_interactions, order=20)
            )
        importers.register()  # the CSV importer of interactions (customers.imports)
