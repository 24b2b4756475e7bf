"""How the dashboard writes its figures (the exports write the same numbers: analytics.exports.percent)."""

from django import template
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext as _

from analytics.exports import percent

register = template.Library()
DASH = "—"


@register.filter
def pct(rate: float | None) -> str:
    """A 0..1 rate as a percentage with one decimal: 0.0588 -> "5.9 %"."""
    value = percent(rate)
    return DASH if value is None else f"{floatformat(value, 1)} %"


@register.filter
def pct_value(value: float | None) -> str:
    """A figure already in percent (the KPI tiles' auto-fail rate)."""
    return DASH if value is None else f"{floatformat(value, 1)} %"


@register.filter
def num1(value: float | None) -> str:
    return DASH if value is None else floatformat(value, 1)


@register.filter
def mmss(seconds: float | None) -> str:
    """Seconds as minutes:seconds (a handle time)."""
    if seconds is None:
        return DASH
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


@register.filter
def kpi(value: float | None, key: str) -> str:
    """A KPI tile's value, by figure."""
    if value is None:
        return DASH
    if key == "auto_fail_rate":
        return pct_value(value)
    if key == "mean_handle_seconds":
        return mmss(value)
    if key == "mean_score":
        return num1(value)
    return floatformat(value, "0g")


@register.filter
def change(tile: dict) -> str:
    """The change vs the previous period: "+12.5 %" (relative) or "+1.2 pts" (score, auto-fail rate)."""
    value = tile.get("change")
    if value is None:
        return DASH
    sign = "+" if value > 0 else ""
    unit = _("pts") if tile.get("change_is_points") else "%"
    return f"{sign}{floatformat(value, 1)} {unit}"
