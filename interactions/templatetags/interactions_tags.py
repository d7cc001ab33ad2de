"""Template helpers of the interactions pages: money, percentages, query strings."""

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str = "") -> str:
    """1234.5|money:"GBP" -> "1,234.50 GBP"; empty for no amount."""
    if amount is None:
        return ""
    text = intcomma(f"{Decimal(amount):.2f}")
    return f"{text} {currency}".strip()


@register.filter
def percent(value: float | None, digits: int = 0) -> str:
    """0.256|percent -> "26%"; an em dash for no value."""
    if value is None:
        return "—"
    return f"{value * 100:.{int(digits)}f}%"


@register.simple_tag
def url_with(base: str, query: str = "", **params: Any) -> str:
    """`base` with an encoded query string plus extra parameters (empty ones left out)."""
    extra = urlencode({key: value for key, value in params.items() if value not in (None, "")})
    parts = [part for part in (query, extra) if part]
    return f"{base}?{'&'.join(parts)}" if parts else base
