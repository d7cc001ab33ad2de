from collections.abc import Iterator

import pytest

from customers import views


@pytest.fixture(autouse=True)
def no_registered_panels(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Customer pages render only the panels a test registers (higher apps add their own)."""
    panels: list[object] = []
    monkeypatch.setattr(views, "customer_panels", panels)
    yield panels
