"""Filters available in every message template without {% load %}."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """94.2 -> "1 min 34 s"; None -> ""."""
    if seconds is None or seconds == "":
        return ""
    total = int(round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


@register.filter
def mrkdwn(value) -> str:
    """Escape text for Slack mrkdwn (&, <, >), leaving everything else as typed.

    https://api.slack.com/reference/surfaces/formatting#escaping
    """
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@register.filter
def oneline(value) -> str:
    return " ".join(str(value).split())
