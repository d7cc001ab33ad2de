"""Where higher apps plug panels into lower apps' pages without being imported by them.

An app registers in its AppConfig.ready(); the customer page renders every registered panel in
order. This keeps dependencies pointing downward (crm <- customers <- interactions <- ...).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    """A block on a page: a template and a function returning its context."""

    key: str
    title: str
    template: str
    context: Callable[..., dict[str, Any]]
    order: int = 100
    permission: str = "customers.view"


customer_panels: list[Panel] = []


def register_customer_panel(panel: Panel) -> None:
    if any(existing.key == panel.key for existing in customer_panels):
        raise ValueError(f"A customer panel named {panel.key!r} is already registered.")
    customer_panels.append(panel)
    customer_panels.sort(key=lambda item: item.order)


@dataclass(frozen=True)
class DemoLoader:
    """Fills a new demo organization with an app's sample data; runs once, in `order`."""

    key: str
    load: Callable[..., None]
    order: int = 100


demo_loaders: list[DemoLoader] = []


def register_demo_loader(loader: DemoLoader) -> None:
    if any(existing.key == loader.key for existing in demo_loaders):
        raise ValueError(f"A demo loader named {loader.key!r} is already registered.")
    demo_loaders.append(loader)
    demo_loaders.sort(key=lambda item: item.order)


@dataclass(frozen=True)
class CustomerMergeHandler:
    """Runs before customers.services.customer_merge moves rows from `source` to `target`.

    The merge moves every row with a foreign key to the customer generically; an app whose rows
    cannot simply be re-pointed (a one-to-one, or a unique constraint that includes the
    customer) resolves them here: `handle(organization=..., actor=..., source=..., target=...)`,
    inside the merge's transaction, e.g. by folding the source's row into the target's.
    """

    key: str
    handle: Callable[..., None]
    order: int = 100


customer_merge_handlers: list[CustomerMergeHandler] = []


def register_customer_merge_handler(handler: CustomerMergeHandler) -> None:
    """Idempotent for the same handler (ready() can run twice); a different one is an error."""
    for existing in customer_merge_handlers:
        if existing.key == handler.key:
            if existing.handle is handler.handle:
                return
            raise ValueError(f"A customer merge handler named {handler.key!r} is registered.")
    customer_merge_handlers.append(handler)
    customer_merge_handlers.sort(key=lambda item: item.order)
