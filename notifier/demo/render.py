"""How the demo inbox shows each message: the way its channel would render it.

`message_view(message)` returns a plain view model for templates/demo/_<kind>.html. Nothing
here marks provider text safe except through format_html (every value escaped), so a hostile
payload renders as text.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from notifier.demo.inbox import CHANNELS
from notifier.demo.models import InboxMessage

EVENT_COLOURS = {
    "succeeded": "#2eb67d",
    "failed": "#e01e5a",
    "stopped": "#ecb22e",
    "ready": "#36c5f0",
    "started": "#7c8594",
}
SLACK_COLOURS = {"good": "#2eb67d", "danger": "#e01e5a", "warning": "#ecb22e"}
MRKDWN = re.compile(r"<(https?://[^|>\s]+)(?:\|([^>]+))?>|\*([^*\n]+)\*|`([^`\n]+)`")
HEX_COLOUR = re.compile(r"#?[0-9a-fA-F]{6}")
# The emoji the message templates use, as Slack shows them.
EMOJI = {
    ":rocket:": "\U0001f680",
    ":white_check_mark:": "\u2705",
    ":x:": "\u274c",
    ":black_square_for_stop:": "\u23f9\ufe0f",
    ":double_vertical_bar:": "\u23f8\ufe0f",
    ":warning:": "\u26a0\ufe0f",
}
EMOJI_CODE = re.compile("|".join(re.escape(code) for code in EMOJI))
# Teams' Markdown: **bold**, [label](https://...), and backslash escapes.
TEAMS_MARKDOWN = re.compile(r"\*\*(.+?)\*\*|\[([^\]]+)\]\((https?://[^)\s]+)\)")
MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")


@dataclass
class MessageView:
    """One message as its channel shows it; `kind` picks the template."""

    message: InboxMessage
    kind: str
    label: str
    colour: str = "#7c8594"
    fields: list[tuple[str, str]] = field(default_factory=list)
    parts: dict[str, Any] = field(default_factory=dict)
    deployment_url: str = ""

    @property
    def edited(self) -> bool:
        return self.message.updated_count > 0


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def text_of(value: Any) -> str:
    """A table cell: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def safe_colour(value: Any, default: str) -> str:
    text = str(value or "")
    if text in SLACK_COLOURS:
        return SLACK_COLOURS[text]
    return ("#" + text.lstrip("#")) if HEX_COLOUR.fullmatch(text) else default


def teams_markdown(text: str) -> SafeString:
    """Teams' Markdown as HTML: **bold** and web links; backslash escapes read back; the rest
    escaped."""
    out, position = [], 0
    for found in TEAMS_MARKDOWN.finditer(text):
        out.append(escape(MARKDOWN_ESCAPE.sub(r"\1", text[position : found.start()])))
        bold, label, url = found.groups()
        if bold is not None:
            out.append(format_html("<strong>{}</strong>", MARKDOWN_ESCAPE.sub(r"\1", bold)))
        else:
            unescaped = MARKDOWN_ESCAPE.sub(r"\1", label)
            out.append(format_html('<a href="{}" rel="noopener noreferrer">{}</a>', url, unescaped))
        position = found.end()
    out.append(escape(MARKDOWN_ESCAPE.sub(r"\1", text[position:])))
    return mark_safe("".join(out))  # every piece above is escaped


def mrkdwn(text: str) -> SafeString:
    """Slack mrkdwn as HTML: links (http and https only), *bold*, `code` and the templates'
    emoji; the rest escaped. Slack's own &amp; &lt; &gt; are read back first, then escaped."""
    text = EMOJI_CODE.sub(lambda found: EMOJI[found.group(0)], text)
    out, position = [], 0
    for found in MRKDWN.finditer(text):
        out.append(escape(html.unescape(text[position : found.start()])))
        url, label, bold, code = found.groups()
        if url:
            out.append(
                format_html(
                    '<a href="{}" rel="noopener noreferrer">{}</a>',
                    url,
                    html.unescape(label or url),
                )
            )
        elif bold:
            out.append(format_html("<strong>{}</strong>", html.unescape(bold)))
        else:
            out.append(format_html("<code>{}</code>", html.unescape(code)))
        position = found.end()
    out.append(escape(html.unescape(text[position:])))
    return mark_safe("".join(out))  # every piece above is escaped


def _slack(view: MessageView, payload: dict[str, Any]) -> None:
    view.parts["text"] = mrkdwn(str(payload.get("text") or ""))
    attachments = []
    for attachment in payload.get("attachments") or []:
        if not isinstance(attachment, dict):
            continue
        attachments.append(
            {
                "colour": safe_colour(attachment.get("color"), view.colour),
                "title": str(attachment.get("title") or ""),
                "text": mrkdwn(str(attachment.get("text") or "")),
                "fields": [
                    (str(f.get("title", "")), str(f.get("value", "")))
                    for f in attachment.get("fields") or []
                    if isinstance(f, dict)
                ],
            }
        )
    view.parts["attachments"] = attachments
    blocks = []
    for block in payload.get("blocks") or []:
        if isinstance(block, dict) and isinstance(block.get("text"), dict):
            blocks.append(mrkdwn(str(block["text"].get("text") or "")))
    view.parts["blocks"] = blocks
    view.fields = [("Channel", view.message.target)] if view.message.target else []


def _teams(view: MessageView, payload: dict[str, Any]) -> None:
    texts, facts, actions = [], [], []
    for attachment in payload.get("attachments") or []:
        content = (attachment or {}).get("content") or {}
        for block in content.get("body") or []:
            if block.get("type") == "TextBlock":
                texts.append(str(block.get("text") or ""))
            elif block.get("type") == "FactSet":
                facts += [
                    (str(f.get("title", "")), str(f.get("value", "")))
                    for f in block.get("facts") or []
                ]
        actions += [
            (str(a.get("title", "")), str(a.get("url", ""))) for a in content.get("actions") or []
        ]
    if not texts and (payload.get("title") or payload.get("text")):  # a legacy MessageCard
        texts = [str(payload.get("title") or ""), str(payload.get("text") or "")]
        for section in payload.get("sections") or []:
            facts += [
                (str(f.get("name", "")), str(f.get("value", "")))
                for f in section.get("facts") or []
            ]
    view.parts.update(
        title=texts[0] if texts else "",
        texts=[teams_markdown(text) for text in texts[1:]],
        facts=facts,
        actions=[(title, url) for title, url in actions if url.startswith(("https://", "http://"))],
    )


def _email(view: MessageView, payload: dict[str, Any]) -> None:
    view.parts.update(
        subject=str(payload.get("subject") or ""),
        sender=str(payload.get("from") or ""),
        to=", ".join(str(address) for address in payload.get("to") or []),
        html=str(payload.get("html") or ""),
        text=str(payload.get("text") or ""),
    )
    view.fields = [
        (name, str(payload.get("headers", {}).get(name, "")))
        for name in ("X-Notifier-Delivery", "X-Notifier-Test")
        if payload.get("headers", {}).get(name)
    ]


def _newrelic(view: MessageView, payload: dict[str, Any]) -> None:
    if "variables" in payload:  # NerdGraph change tracking
        marker = ((payload.get("variables") or {}).get("deployment")) or {}
        api, revision = "NerdGraph change tracking", marker.get("version")
    else:
        marker = payload.get("deployment") or {}
        api, revision = "REST v2 deployment marker", marker.get("revision")
    view.parts.update(
        api=api,
        revision=str(revision or ""),
        user=str(marker.get("user") or ""),
        description=str(marker.get("description") or ""),
        changelog=str(marker.get("changelog") or ""),
        application=view.message.target,
    )


def _pagerduty(view: MessageView, payload: dict[str, Any]) -> None:
    event = payload.get("payload") or {}
    details = event.get("custom_details") or {}
    view.parts.update(
        summary=str(event.get("summary") or ""),
        source=str(event.get("source") or ""),
        timestamp=str(event.get("timestamp") or ""),
        details=[(str(k), text_of(v)) for k, v in details.items()]
        if isinstance(details, dict)
        else [],
        links=[
            (str(link.get("text") or link.get("href")), str(link.get("href")))
            for link in payload.get("links") or []
            if str((link or {}).get("href", "")).startswith(("https://", "http://"))
        ],
    )


def _sns(view: MessageView, payload: dict[str, Any]) -> None:
    attributes = payload.get("MessageAttributes") or {}
    inner = payload.get("MessageJSON")
    view.parts.update(
        subject=str(payload.get("Subject") or ""),
        topic=str(payload.get("TopicArn") or ""),
        attributes=[
            (str(name), str((value or {}).get("Type", "")), str((value or {}).get("Value", "")))
            for name, value in attributes.items()
        ]
        if isinstance(attributes, dict)
        else [],
        message=pretty(inner) if inner is not None else str(payload.get("Message") or ""),
    )


def _webhook(view: MessageView, payload: dict[str, Any]) -> None:
    view.parts.update(
        signature=view.message.signature or "unsigned",
        delivery=view.message.headers.get("X-Notifier-Delivery", ""),
        headers=sorted(view.message.headers.items()),
        body=pretty(payload),
    )


RENDERERS = {
    "slack": _slack,
    "teams": _teams,
    "email": _email,
    "ses": _email,
    "newrelic": _newrelic,
    "pagerduty": _pagerduty,
    "sns": _sns,
    "webhook": _webhook,
}


def deployment_link(deployment_id: str) -> str:
    if not deployment_id:
        return ""
    try:
        return reverse("deployment-detail", kwargs={"deployment_id": deployment_id})
    except NoReverseMatch:
        return ""


def message_view(message: InboxMessage) -> MessageView:
    """The view model of one message; an unknown kind is shown as its JSON."""
    kind = message.channel if message.channel in RENDERERS else "other"
    view = MessageView(
        message=message,
        kind=kind,
        label=CHANNELS.get(message.channel, message.channel),
        colour=EVENT_COLOURS.get(message.event, "#7c8594"),
        deployment_url=deployment_link(message.deployment_id),
    )
    payload = message.payload if isinstance(message.payload, dict) else {"value": message.payload}
    if kind in RENDERERS:
        try:
            RENDERERS[kind](view, payload)
        except (AttributeError, TypeError, ValueError):  # not the provider's shape
            view.kind, view.parts = "other", {}
    view.parts.setdefault("json", pretty(payload))
    return view
