"""Slack: an incoming webhook, or a bot token and a channel.

With a bot token the message posted when a deployment starts is edited in place
(chat.update) as the deployment moves on, so a channel shows one line per deployment. The
message's timestamp is remembered per (setup, deployment) in SlackMessage: it is state of this
channel, not of the delivery ledger, and lives in the service's Django database.

A bot-token message carries the delivery's stable id in its metadata (event type
METADATA_EVENT_TYPE). When an attempt re-sends one that was in flight when its sender died,
one conversations.history call (from that attempt's start, at most HISTORY_LIMIT messages)
looks for a message with that id first; one found is recorded as delivered, not posted again.

Docs: https://api.slack.com/messaging/webhooks, https://api.slack.com/methods/chat.postMessage,
https://api.slack.com/methods/chat.update, https://api.slack.com/metadata,
https://api.slack.com/methods/conversations.history
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from channels import http
from channels.addresses import validate_user_url
from channels.base import ChannelError, Delivery, ErrorCode, SendContext, sender, test_subject
from channels.messages import render
from channels.secrets import SecretField
from notifier.events import DeploymentEvent, Event
from registrations.models import NotificationSetup

KIND = "slack"
LABEL = "Slack message"
SHORT_LABEL = "Slack"  # where space is tight: badges, chart legends
DEFAULT_EVENTS = (Event.SUCCEEDED.value, Event.FAILED.value, Event.STOPPED.value)
TEMPLATE_PARTS = ("body",)
WHAT = "Slack"
KEEP_MESSAGES = timedelta(days=30)  # how long a message may still be updated
_RANK = {Event.STARTED: 0, Event.READY: 1}  # terminal events rank 2
METADATA_EVENT_TYPE = "codedeploy_notification"
HISTORY_LIMIT = 50  # messages the in-flight check reads, newest first
CLOCK_MARGIN = timedelta(seconds=60)  # our clock may be ahead of Slack's
log = logging.getLogger(__name__)

# Slack answers 200 {"ok": false, "error": "..."}; these are worth another try.
RETRYABLE_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
ERROR_ADVICE = {
    "invalid_auth": "the bot token is not valid: paste it again from the Slack app's "
    "OAuth & Permissions page",
    "not_authed": "no bot token was sent: set the bot token",
    "token_revoked": "the bot token was revoked: reinstall the Slack app and paste the new token",
    "account_inactive": "the bot token belongs to a deactivated app or user",
    "channel_not_found": "the channel does not exist or the bot cannot see it: check the channel",
    "not_in_channel": "the bot is not in the channel: invite it with /invite @<bot name>",
    "is_archived": "the channel is archived",
    "missing_scope": "the Slack app lacks the chat:write scope: add it and reinstall the app",
    "msg_too_long": "the message is too long: shorten the body template",
}
# Slack's error names (https://api.slack.com/methods/chat.postMessage#errors) -> ErrorCode.
ERROR_CODES = {
    "ratelimited": ErrorCode.RATE_LIMITED,
    "internal_error": ErrorCode.SERVER_ERROR,
    "fatal_error": ErrorCode.SERVER_ERROR,
    "service_unavailable": ErrorCode.SERVER_ERROR,
    "request_timeout": ErrorCode.TIMEOUT,
    "invalid_auth": ErrorCode.UNAUTHORIZED,
    "not_authed": ErrorCode.UNAUTHORIZED,
    "token_revoked": ErrorCode.UNAUTHORIZED,
    "token_expired": ErrorCode.UNAUTHORIZED,
    "account_inactive": ErrorCode.UNAUTHORIZED,
    "missing_scope": ErrorCode.FORBIDDEN,
    "not_in_channel": ErrorCode.FORBIDDEN,
    "is_archived": ErrorCode.FORBIDDEN,
    "restricted_action": ErrorCode.FORBIDDEN,
    "channel_not_found": ErrorCode.NOT_FOUND,
    "message_not_found": ErrorCode.NOT_FOUND,
}
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
UPDATE_FALLBACK_ERRORS = {"message_not_found", "cant_update_message", "edit_window_closed"}


class SlackSetup(NotificationSetup):
    webhook_url = SecretField(
        "incoming webhook URL",
        blank=True,
        validators=[validate_user_url],
        help_text="https://hooks.slack.com/services/... from the Slack app's Incoming Webhooks "
        "page; the webhook decides the channel. Leave empty when using a bot token.",
    )
    bot_token = SecretField(
        "bot token",
        blank=True,
        help_text="xoxb-... with the chat:write scope. With a bot token, the message posted "
        "when a deployment starts is updated when it ends (subscribe to 'Started').",
    )
    channel = models.CharField(
        max_length=100,
        blank=True,
        help_text="With a bot token: the channel id (C0123456789) or #name; invite the bot to it.",
    )
    mention_deployer = models.BooleanField(
        "mention the person who deployed",
        default=False,
        help_text="Mention (@) the person who deployed, when People gives them a Slack user "
        "id. Waits up to NOTIFIER_DEPLOYER_WAIT seconds for CloudTrail to name them.",
    )

    class Meta:
        verbose_name = "Slack message"

    def __str__(self) -> str:
        return f"Slack {self.channel or 'webhook'}"

    def wants_deployer(self) -> bool:
        return self.mention_deployer

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.webhook_url and self.bot_token:
            errors["bot_token"] = "Give an incoming webhook URL or a bot token, not both."
        elif not self.webhook_url and not self.bot_token:
            errors["webhook_url"] = "Give an incoming webhook URL, or a bot token and a channel."
        if self.bot_token:
            if not self.bot_token.startswith(("xoxb-", "xoxp-")):
                errors["bot_token"] = "A bot token starts with xoxb- (or xoxp- for a user token)."
            if not self.channel.strip():
                errors["channel"] = "With a bot token, name the channel (C0123456789 or #name)."
        if errors:
            raise ValidationError(errors)


class SlackMessage(models.Model):
    """The message a bot-token setup posted for a deployment, to update it in place."""

    setup = models.ForeignKey(NotificationSetup, on_delete=models.CASCADE, related_name="+")
    deployment_id = models.CharField(max_length=64)
    channel_id = models.CharField(max_length=64)
    ts = models.CharField(max_length=32)
    event = models.CharField(max_length=16)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["setup", "deployment_id"], name="one_slack_message")
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} in {self.channel_id} at {self.ts}"


SETUP_MODEL = SlackSetup
SETUP_FIELDS = ("webhook_url", "bot_token", "channel", "mention_deployer")
SETUP_SCHEMA = {"bot_token": {"pattern": "^(?:xox[bp]-[^\\x00]*)?$"}}  # or empty: a webhook


# --- building the request (pure) ----------------------------------------------------------


def message_payload(
    event: DeploymentEvent, setup: SlackSetup, *, delivery_id: str = "", test: bool = False
) -> dict[str, Any]:
    """A test send's text begins [TEST] and its metadata (bot token) says "test": true."""
    text = test_subject(render(KIND, "body", event, setup), test=test)
    if setup.mention_deployer and SLACK_USER_ID.fullmatch(event.deployer.slack_user_id):
        text = f"{text}\ncc <@{event.deployer.slack_user_id}>"
    payload: dict[str, Any] = {"text": text, "unfurl_links": False, "unfurl_media": False}
    if setup.bot_token:
        payload["channel"] = setup.channel.strip()
        if delivery_id:
            payload["metadata"] = {
                "event_type": METADATA_EVENT_TYPE,
                "event_payload": {"delivery_id": delivery_id, **({"test": True} if test else {})},
            }
    return payload


def rank(event: str) -> int:
    return _RANK.get(Event(event), 2)


# --- sending ------------------------------------------------------------------------------


def _api(method: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = http.request(
        "POST",
        f"{settings.SLACK_API_URL}/{method}",
        what=WHAT,
        json=payload,
        headers={"Authorization": f"Bearer {token}"},
    )
    answer = http.json_answer(response, what=WHAT, expected=f"{method}'s JSON")
    if not answer.get("ok"):
        error = str(answer.get("error", "unknown_error"))
        advice = ERROR_ADVICE.get(error, "see https://api.slack.com/methods/" + method)
        raise ChannelError(
            f"Slack refused {method} ({error}): {advice}",
            code=ERROR_CODES.get(error, ErrorCode.BAD_REQUEST),
            retryable=error in RETRYABLE_ERRORS,
            response_status=response.status_code,
            provider_code=error,
        )
    return answer


def _post(
    event: DeploymentEvent, setup: SlackSetup, payload: dict[str, Any], *, remember: bool = True
) -> Delivery:
    answer = _api("chat.postMessage", setup.bot_token, payload)
    channel_id, ts = str(answer.get("channel", "")), str(answer.get("ts", ""))
    if not ts:
        raise ChannelError(
            "Slack answered chat.postMessage ok but without the message's ts: not proof it "
            "was posted; it will be retried",
            code=ErrorCode.BAD_RESPONSE,
            retryable=True,
            response_status=200,
        )
    if remember:
        _remember(event, setup, channel_id=channel_id, ts=ts)
    return Delivery(response_status=200, detail=f"posted message {ts} in {channel_id}")


def _remember(event: DeploymentEvent, setup: SlackSetup, *, channel_id: str, ts: str) -> None:
    if not setup.pk:
        return
    SlackMessage.objects.update_or_create(
        setup_id=setup.pk,
        deployment_id=event.deployment_id,
        defaults={"channel_id": channel_id, "ts": ts, "event": event.event.value},
    )
    SlackMessage.objects.filter(updated_at__lt=timezone.now() - KEEP_MESSAGES).delete()


def posted_before(setup: SlackSetup, *, delivery_id: str, since: datetime) -> tuple[str, str]:
    """(channel, ts) of a message this delivery already posted (found by its metadata in
    one conversations.history call from `since`), or ("", "") if none is there. Needs the
    channel's id and the channels:history (groups:history) scope; without them it finds
    nothing and the message is posted (maybe a second time)."""
    channel = setup.channel.strip()
    query = {
        "channel": channel,
        "oldest": f"{(since - CLOCK_MARGIN).timestamp():.6f}",
        "limit": HISTORY_LIMIT,
        "include_all_metadata": True,
    }
    try:
        answer = _api("conversations.history", setup.bot_token, query)
    except ChannelError as exc:
        log.warning("could not check Slack for delivery %s: %s", delivery_id, exc)
        return "", ""
    for message in answer.get("messages") or []:
        metadata = message.get("metadata") or {}
        if (
            metadata.get("event_type") == METADATA_EVENT_TYPE
            and (metadata.get("event_payload") or {}).get("delivery_id") == delivery_id
        ):
            return channel, str(message.get("ts", ""))
    return "", ""


@sender
def send(event: DeploymentEvent, setup: SlackSetup, context: SendContext) -> Delivery:
    payload = message_payload(event, setup, delivery_id=context.delivery_id, test=context.test)
    if not setup.bot_token:
        response = http.request("POST", setup.webhook_url, what=WHAT, json=payload, user_url=True)
        # Accepted: 200 with the body "ok" (https://api.slack.com/messaging/webhooks#handling_errors).
        if response.text.strip() != "ok":
            raise http.bad_response(response, what=WHAT, expected="the body ok")
        return http.ok(response, "posted through the incoming webhook")
    previous = None
    if context.test:  # a test is its own message: it never updates, nor is updated by, a real one
        return _post(event, setup, payload, remember=False)
    if event.event != Event.STARTED and setup.pk:
        previous = SlackMessage.objects.filter(
            setup_id=setup.pk, deployment_id=event.deployment_id
        ).first()
    if previous is None and context.in_flight_since is not None:
        channel_id, ts = posted_before(
            setup, delivery_id=context.delivery_id, since=context.in_flight_since
        )
        if ts:
            _remember(event, setup, channel_id=channel_id, ts=ts)
            return Delivery(
                response_status=200,
                detail=f"message {ts} was posted before the sender stopped; not posted again",
            )
    if previous is None:
        return _post(event, setup, payload)
    if rank(event.event) < rank(previous.event):
        return Delivery(detail=f"message {previous.ts} already shows {previous.event}; left as is")
    update = {**payload, "channel": previous.channel_id, "ts": previous.ts}
    try:
        _api("chat.update", setup.bot_token, update)
    except ChannelError as exc:
        if exc.provider_code not in UPDATE_FALLBACK_ERRORS:
            raise
        return _post(event, setup, payload)  # the message was deleted: post a new one
    previous.event = event.event.value
    previous.save(update_fields=["event", "updated_at"])
    return Delivery(
        response_status=200, detail=f"updated message {previous.ts} in {previous.channel_id}"
    )
