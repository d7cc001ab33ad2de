from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from crm.registry import DemoLoader, demo_loaders, register_demo_loader
        from customers import demo, importers

        # ready() can run twice (e.g. in some test runners); register once.
        if not any(loader.key == "customers" for loader in demo_loaders):
            register_demo_loader(DemoLoader(key="customers", load=demo.load, order=10))
        importers.register()
