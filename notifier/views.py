"""History pages: what deployments were seen, and what every notification did."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from channels.registry import label_for
from notifier.storage import get_store
from notifier.storage.base import StorageError
from registrations.models import NotificationSetup, Registration

PER_PAGE = 50


def _page_number(request) -> int:
    try:
        return max(1, int(request.GET.get("page", 1)))
    except ValueError:
        return 1


@login_required
def deployment_list(request):
    application = request.GET.get("application", "").strip() or None
    page = get_store().deployments_page(
        application=application, page=_page_number(request), per_page=PER_PAGE
    )
    state = get_store().poll_state_get()
    return render(
        request,
        "history/deployment_list.html",
        {
            "page": page,
            "application": application or "",
            "applications": Registration.objects.values_list(
                "codedeploy_application_name", flat=True
            ),
            "has_registrations": Registration.objects.exists(),
            "poll_state": state,
        },
    )


@login_required
def deployment_detail(request, deployment_id: str):
    record = get_store().deployment_get(deployment_id)
    if record is None:
        raise Http404(f"No deployment {deployment_id} has been seen.")
    setups = NotificationSetup.objects.in_bulk([d.key.setup_id for d in record.deliveries])
    deliveries = [
        {"delivery": d, "setup": setups.get(d.key.setup_id), "label": label_for(d.kind)}
        for d in record.deliveries
    ]
    return render(
        request,
        "history/deployment_detail.html",
        {"record": record, "event": record.event, "deliveries": deliveries},
    )


def healthz(request):
    """200 while the poller succeeded recently, 503 otherwise (for load balancers)."""
    try:
        state = get_store().poll_state_get()
    except StorageError as exc:
        return JsonResponse({"status": "unhealthy", "reason": f"storage: {exc}"}, status=503)
    allowed = timedelta(seconds=max(120, settings.NOTIFIER_POLL_INTERVAL * 10))
    now = timezone.now()
    healthy = state.last_success is not None and now - state.last_success <= allowed
    body = {
        "status": "ok" if healthy else "unhealthy",
        "last_successful_poll": state.last_success.isoformat() if state.last_success else None,
        "poll_lag_seconds": round((now - state.last_success).total_seconds(), 1)
        if state.last_success
        else None,
        "last_error": state.last_error or None,
    }
    return JsonResponse(body, status=200 if healthy else 503)
