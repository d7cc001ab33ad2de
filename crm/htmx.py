"""The one rule for answering HTMX: which requests get a page's swappable part."""

from typing import Any


def wants_partial(request: Any) -> bool:
    """HTMX swaps get the partial; boosted navigation and history restores need the page."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return not htmx.boosted and not htmx.history_restore_request
