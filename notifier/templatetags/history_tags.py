"""Small formatting filters for the history pages."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template

from channels.message_filters import duration as message_duration

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """3725 -> '1 h 2 min'; 75 -> '1 min 15 s'; None -> '—' (messages' filter, with a dash)."""
    return message_duration(seconds) or "—"


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{value:.0%}"


@register.simple_tag
def query(params: dict, **changes) -> str:
    """`params` with `changes` applied, as '?a=b&...' (a value of '' removes a key)."""
    merged = {**(params or {}), **changes}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in ("", None)})
