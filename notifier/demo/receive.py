"""The demo inbox's receiving ends, shaped like each provider's API so the real channel code
succeeds against them: New Relic (REST v2 and NerdGraph), Slack (Web API and incoming
webhooks), Microsoft Teams, PagerDuty, signed webhooks and SNS HTTP subscriptions.

Each view is CSRF-exempt, answers 404 unless settings.NOTIFIER_DEMO, and records what it
received through notifier.demo.inbox.inbox_record.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from notifier.demo import slack_api
from notifier.demo.inbox import inbox_messages, inbox_record
from notifier.demo.signatures import signature_state

View = Callable[..., HttpResponse]


def demo_only(view: View) -> View:
    """404 unless the demo runs (settings.NOTIFIER_DEMO)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.NOTIFIER_DEMO:
            raise Http404("The demo inbox exists only while the demo runs.")
        return view(request, *args, **kwargs)

    return wrapper


def receiver(view: View) -> View:
    """A provider-shaped POST endpoint: demo only, CSRF-exempt."""
    return csrf_exempt(demo_only(view))


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


def _bad_json(what: str) -> JsonResponse:
    return JsonResponse({"error": f"the body is not JSON: {what} takes a JSON object"}, status=400)


SECRET_HEADERS = {"authorization", "x-api-key", "api-key"}


def _headers(request: HttpRequest) -> dict[str, str]:
    """The request's headers as the inbox keeps them: keys and tokens hidden (a long one
    shows its first characters), no cookies."""
    kept = {}
    for name, value in request.headers.items():
        if name.lower() == "cookie":
            continue
        shown = value[:10] if len(value) > 20 else ""
        kept[name] = f"{shown}… (hidden)" if name.lower() in SECRET_HEADERS else value
    return kept


# --- New Relic ----------------------------------------------------------------------------


def newrelic_app_id(name: str) -> int:
    """The application id the demo's New Relic answers for a name: stable across restarts."""
    return 100_000 + zlib.crc32(name.encode()) % 900_000


def _newrelic_denied(request: HttpRequest, header: str) -> JsonResponse | None:
    if request.headers.get(header):
        return None
    return JsonResponse({"error": {"title": f"{header} header is missing"}}, status=401)


@csrf_exempt
@demo_only
@require_http_methods(["GET"])
def newrelic_applications(request: HttpRequest) -> HttpResponse:
    """GET /v2/applications.json?filter[name]=X: every name is an application."""
    if denied := _newrelic_denied(request, "X-Api-Key"):
        return denied
    name = request.GET.get("filter[name]", "")[:200]
    apps = [{"id": newrelic_app_id(name), "name": name, "language": "python"}] if name else []
    return JsonResponse({"applications": apps})


@csrf_exempt
@demo_only
@require_http_methods(["GET", "POST"])
def newrelic_deployments(request: HttpRequest, app_id: int) -> HttpResponse:
    """POST records a deployment marker (201 with its id); GET lists the markers recorded."""
    if denied := _newrelic_denied(request, "X-Api-Key"):
        return denied
    if request.method == "GET":
        found = [
            {"id": m.id, **(m.payload.get("deployment") or {})}
            for m in inbox_messages(channel="newrelic", limit=100)
            if m.target == str(app_id)
        ]
        return JsonResponse({"deployments": found})
    body = _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("deployment"), dict):
        return JsonResponse({"error": {"title": "deployment is required"}}, status=422)
    deployment = body["deployment"]
    message = inbox_record(
        channel="newrelic",
        title=str(deployment.get("description") or deployment.get("revision") or "marker"),
        payload=body,
        headers=_headers(request),
        target=str(app_id),
    )
    return JsonResponse({"deployment": {"id": message.id, **deployment}}, status=201)


@receiver
@require_POST
def newrelic_graphql(request: HttpRequest) -> HttpResponse:
    """NerdGraph: changeTrackingCreateDeployment, answered with a deploymentId."""
    if denied := _newrelic_denied(request, "API-Key"):
        return denied
    body = _json_body(request)
    deployment = ((body or {}).get("variables") or {}).get("deployment") if body else None
    if not isinstance(deployment, dict):
        return JsonResponse({"errors": [{"message": "variables.deployment is required"}]})
    inbox_record(
        channel="newrelic",
        title=str(deployment.get("description") or deployment.get("version") or "marker"),
        payload=body,
        headers=_headers(request),
        deployment_id=str(deployment.get("groupId") or ""),
        target=str(deployment.get("entityGuid") or ""),
    )
    created = {"deploymentId": str(uuid.uuid4()), "entityGuid": deployment.get("entityGuid")}
    return JsonResponse({"data": {"changeTrackingCreateDeployment": created}})


# --- Slack --------------------------------------------------------------------------------


@receiver
@require_POST
def slack_method(request: HttpRequest, method: str) -> HttpResponse:
    """Slack's Web API: chat.postMessage, chat.update, conversations.history."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token.startswith(("xoxb-", "xoxp-")):
        return JsonResponse({"ok": False, "error": "invalid_auth"})
    body = _json_body(request)
    if not isinstance(body, dict):
        return JsonResponse({"ok": False, "error": "invalid_json"})
    handler = slack_api.METHODS.get(method)
    if handler is None:
        return JsonResponse({"ok": False, "error": "unknown_method"}, status=404)
    return JsonResponse(handler(body, _headers(request)))


@receiver
@require_POST
def slack_webhook(request: HttpRequest, slug: str) -> HttpResponse:
    """An incoming webhook: answers the body `ok`, as Slack does."""
    body = _json_body(request)
    if not isinstance(body, dict):
        return HttpResponse("invalid_payload", status=400, content_type="text/plain")
    inbox_record(
        channel="slack",
        title=slack_api.first_line(body),
        payload=body,
        headers=_headers(request),
        target=f"webhook {slug}",
    )
    return HttpResponse("ok", content_type="text/plain")


# --- Teams, PagerDuty, webhooks, SNS ------------------------------------------------------


def teams_title(body: dict[str, Any]) -> str:
    """An Adaptive Card's first text block, or a MessageCard's title or summary."""
    for attachment in body.get("attachments") or []:
        for block in (attachment.get("content") or {}).get("body") or []:
            if block.get("type") == "TextBlock" and block.get("text"):
                return str(block["text"])
    return str(body.get("title") or body.get("summary") or "Teams card")


@receiver
@require_POST
def teams(request: HttpRequest, slug: str) -> HttpResponse:
    """A Workflows webhook: 202 with an empty body."""
    body = _json_body(request)
    if not isinstance(body, dict):
        return _bad_json("a Teams workflow")
    inbox_record(
        channel="teams",
        title=teams_title(body),
        payload=body,
        headers=_headers(request),
        target=slug,
    )
    return HttpResponse(status=202)


@receiver
@require_POST
def pagerduty(request: HttpRequest) -> HttpResponse:
    """Events API v2 change events: 202 {"status": "success"}."""
    body = _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
        return JsonResponse({"status": "invalid event", "errors": ["payload is required"]}, 400)
    if not body.get("routing_key"):
        return JsonResponse({"status": "invalid event", "errors": ["routing_key is required"]}, 400)
    inbox_record(
        channel="pagerduty",
        title=str(body["payload"].get("summary") or "change event"),
        payload=body,
        headers=_headers(request),
        target=str(body["routing_key"])[:8] + "…",
    )
    return JsonResponse({"status": "success", "message": "Change event processed"}, status=202)


@receiver
@require_POST
def webhook(request: HttpRequest, slug: str) -> HttpResponse:
    """A signed webhook: its X-Signature-256 checked against the secret of the webhook setup
    whose URL this is (valid, invalid or unsigned); answered 200 either way."""
    body = _json_body(request)
    payload = (
        body
        if isinstance(body, dict)
        else {"text": request.body[:100_000].decode(errors="replace")}
    )
    state = signature_state(request)
    title = " ".join(
        str(payload.get(key) or "") for key in ("application", "deployment_group", "event")
    ).strip()
    inbox_record(
        channel="webhook",
        title=title or "webhook",
        payload=payload,
        headers=_headers(request),
        target=slug,
        signature=state,
    )
    return JsonResponse({"received": True, "signature": state})


@receiver
@require_POST
def sns(request: HttpRequest) -> HttpResponse:
    """An SNS HTTP subscription: the notification JSON, sent as text/plain."""
    body = _json_body(request)
    if not isinstance(body, dict):
        return _bad_json("an SNS HTTP subscription")
    message = body.get("Message")
    try:
        inner = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        inner = None
    title = body.get("Subject") or (str(message or "").splitlines() or [""])[0]
    inbox_record(
        channel="sns",
        title=str(title or body.get("Type") or "SNS message"),
        payload={**body, "MessageJSON": inner} if isinstance(inner, dict) else body,
        headers=_headers(request),
        target=str(body.get("TopicArn") or ""),
    )
    return HttpResponse(status=200)
