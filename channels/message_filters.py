"""Filters available in every message template without {% load %}.

Data from CodeDeploy (descriptions, creators, error messages, revision summaries, repository
names) is free text: templates escape it for the markup of their target with `mrkdwn`
(Slack), `markdown` (Teams) and `link_url` (a URL inside a link of either).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django import template

register = template.Library()

# Characters Markdown (and Teams' Adaptive Card subset of it) gives a meaning to.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_~\[\](){}<>#!|])")
_MARKDOWN_LINE_START = re.compile(r"(?m)^(\s*(?:\d+(?=\.))?)([-+=.])")
# What may stay as typed in a URL inside a link; anything else ((, ), |, <, >, spaces, quotes)
# is percent-encoded so it cannot end the link or start another.
_URL_SAFE = "/:?#@!$&'*+,;=%~-._"


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
    """Escape text for Slack mrkdwn (&, <, >): data can make no mention (<!channel>, <@U1>)
    and no link. Formatting characters (*, _, ~) are left as typed: Slack has no escape for
    them, and they cannot notify anyone.

    https://api.slack.com/reference/surfaces/formatting#escaping
    """
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@register.filter
def mrkdwn_label(value) -> str:
    """`mrkdwn` for the label of a Slack link (<url|label>): a `|` becomes a broken bar, so
    the label can never be read as part of a link's markup."""
    return mrkdwn(value).replace("|", "\N{BROKEN BAR}")


@register.filter
def markdown(value) -> str:
    r"""Escape text for Markdown (Teams): every character that could make a link, an image,
    emphasis, code, a heading or a list is preceded by a backslash (`[x](y)` -> `\[x\]\(y\)`).
    """
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))
    return _MARKDOWN_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


@register.filter
def link_url(value) -> str:
    """A URL made safe to put inside a link's markup: characters that could end the link or
    start another (`|`, `>`, `)`, spaces...) are percent-encoded; follow with `mrkdwn` for
    Slack."""
    return quote(str(value), safe=_URL_SAFE)


@register.filter
def oneline(value) -> str:
    return " ".join(str(value).split())
