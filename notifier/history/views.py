"""History pages: what deployments were seen, what every notification did, how releases go.

Views stay thin: they parse the request with notifier.history.forms, call a selector (reads)
or notifier.history.services (the one write, a resend) and render templates/history/*.
Every page needs a signed-in user; anyone signed in reads all history, and only a
registration's team (or staff) may resend.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from notifier import storage
from notifier.checks import provider_problems
from notifier.history import charts, deployment, listing, services, statistics
from notifier.history.applications import application_summary
from notifier.history.forms import HistoryFilterForm, cursors, page_number
from notifier.history.health import (
    first_run_missing,
    healthz_health,
    poller_health,
    push_queues,
    queue_depth,
)
from notifier.history.sources import SourceNames
from notifier.ratelimit import RateLimited
from notifier.storage.base import DeliveryKey, StorageError
from registrations.models import Registration
from registrations.teams import registration_editable

SIGN_IN = "sign-in"
signed_in = login_required(login_url=SIGN_IN)
RESENT_WORDS = {
    "delivered": "sent and delivered",
    "pending": "sent; it failed and will be retried",
    "failed": "sent, and it failed again",
    "dead": "sent, and it failed again",
    "superseded": "not sent: the deployment's outcome had already been delivered",
}


def _query(params: dict[str, str] | None) -> str | None:
    return "?" + urlencode(params) if params is not None else None


def _poller_or_none():
    try:
        return poller_health()
    except StorageError:
        return None


def _refuse_control_characters(value: str, what: str) -> None:
    """No deployment or application is named with control characters (and PostgreSQL refuses
    a NUL in a query): such a path is a 404, not a database error."""
    if listing.has_control_characters(value):
        raise Http404(f"No {what} has a name with control characters.")


@signed_in
def deployment_list(request: HttpRequest) -> HttpResponse:
    choices = listing.filter_choices()
    sources = SourceNames()
    form = HistoryFilterForm(
        request.GET or None,
        kinds=choices["kinds"],
        applications=choices["applications"],
        sources=sources,
    )
    filters = form.filters()
    before, after, cursor_error = cursors(request)
    number, page_error = page_number(request)
    page = listing.deployment_list(filters=filters, before=before, after=after, page=number)
    filtering = bool(filters.as_params())
    context = {
        "form": form,
        "page": page,
        "rows": [
            (row, sources.name_for(account=row.account, region=row.region)) for row in page.rows
        ],
        "newer_url": _query(page.newer),
        "older_url": _query(page.older),
        "newest_url": _query(filters.as_params()),
        "filtering": filtering,
        "paging_errors": [e for e in (cursor_error, page_error) if e],
        "applications": choices["applications"],
        "has_registrations": bool(choices["applications"]),
    }
    if not page.rows and not filtering:
        context["poller"] = poller = _poller_or_none()
        context["first_run"] = first_run_missing(poller)
    return render(request, "history/deployment_list.html", context)


def _detail_page(request: HttpRequest, deployment_id: str, *, status: int = 200) -> HttpResponse:
    detail = deployment.deployment_detail(deployment_id=deployment_id, user=request.user)
    if detail is None:
        raise Http404(f"No deployment {deployment_id} has been seen.")
    context = {"detail": detail, "event": detail.event}
    return render(request, "history/deployment_detail.html", context, status=status)


@signed_in
def deployment_detail(request: HttpRequest, deployment_id: str) -> HttpResponse:
    _refuse_control_characters(deployment_id, "deployment")
    return _detail_page(request, deployment_id)


@signed_in
@require_POST
def delivery_resend(request: HttpRequest, deployment_id: str) -> HttpResponse:
    """Resend one notification of this deployment now (recorded as a new attempt)."""
    event = request.POST.get("event", "")
    try:
        setup_id = int(request.POST.get("setup", ""))
    except ValueError:
        messages.error(request, "Resend needs the notification's setup; reload the page and retry.")
        return redirect("deployment-detail", deployment_id=deployment_id)
    key = DeliveryKey(deployment_id, event, setup_id)
    try:
        state = services.delivery_resend(key=key, user=request.user)
    except RateLimited as exc:
        messages.error(request, f"Not resent: {exc}.")
        response = _detail_page(request, deployment_id, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except services.ResendRefused as exc:
        messages.error(request, f"Not resent: {exc}.")
        if not exc.forbidden:
            return redirect("deployment-detail", deployment_id=deployment_id)
        return _detail_page(request, deployment_id, status=403)
    level = messages.SUCCESS if state == "delivered" else messages.WARNING
    words = RESENT_WORDS.get(state, state)
    messages.add_message(request, level, f"The {event} notification was {words}.")
    url = reverse("deployment-detail", args=[deployment_id])
    return redirect(f"{url}#setup-{setup_id}")


@signed_in
def application_detail(request: HttpRequest, application: str) -> HttpResponse:
    _refuse_control_characters(application, "application")
    sources = SourceNames()
    chosen = request.GET.get("source", "")
    source = sources.named(chosen) if chosen else None
    if chosen and source is None:
        known = ", ".join(s.name for s in sources.labels) or "none yet"
        return HttpResponse(
            f"source: no source is named {chosen}; use one of the sources ({known}) "
            "or leave source out for every source.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    summary = application_summary(application=application, source=source, sources=sources)
    if summary.registration is None and not summary.recent.rows:
        raise Http404(f"{application} is not registered and no deployment of it has been seen.")
    weekly_chart = charts.stacked_bars(
        [(week.strftime("%d %b"), {"Deployments": n}) for week, n in summary.weekly],
        keys=("Deployments",),
        label=f"Deployments of {application} per week over {summary.window_days} days",
    )
    poller = _poller_or_none() if not summary.recent.rows else None
    return render(
        request,
        "history/application_detail.html",
        {
            "summary": summary,
            "weekly_chart": weekly_chart,
            "can_edit": registration_editable(user=request.user, registration=summary.registration),
            "poller": poller,
            "first_run": first_run_missing(poller),
        },
    )


@signed_in
def dashboard(request: HttpRequest) -> HttpResponse:
    board = statistics.dashboard()
    per_day = charts.stacked_bars(
        [(day.strftime("%d %b"), counts) for day, counts in board.per_day],
        keys=statistics.OUTCOME_BUCKETS,
        label=f"Deployments per day by outcome, last {board.days} days",
    )
    failure = charts.horizontal_bars(
        [
            (app, failed / finished, f"{failed / finished:.0%} ({failed} of {finished})")
            for app, failed, finished in board.failure_rates
        ],
        label="Change failure rate per application: failed deployments out of finished ones",
    )
    latency = charts.paired_bars(
        [(label, p50, p95) for _, label, _, p50, p95 in board.latency],
        label="Notification latency per channel: p50 and p95 in milliseconds",
        unit="ms",
    )
    context = {
        "board": board,
        "per_day_chart": per_day,
        "failure_chart": failure,
        "latency_chart": latency,
    }
    return render(request, "history/dashboard.html", context)


@signed_in
def status(request: HttpRequest) -> HttpResponse:
    try:
        health, storage_error = poller_health(), ""
    except StorageError as exc:
        health, storage_error = None, str(exc)
    reader = storage.get_history_reader()
    context = {
        "health": health,
        "storage_error": storage_error,
        "depth": queue_depth(reader=reader) if health else None,
        "push_queues": push_queues() if health else [],
        "history_source": reader.database,
        "now": timezone.now(),
        "has_registrations": Registration.objects.exists(),
        "configuration_problems": provider_problems(),
        "first_run": first_run_missing(health),
    }
    return render(request, "history/status.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the poller is healthy, 503 otherwise (for load balancers): notifier.health.

    Anyone can reach it, so it answers the status, the lag and the failing part's name
    ("polling", "storage", or "aws_region"/"aws_credentials" when never polled for want of
    it: status "not configured") only: the last AWS error can name a role ARN and an account
    id, a storage error hosts and tables; /status/ shows them to signed-in users. It reads
    through get_health_store(), so storage that is down answers 503 within a second.
    """
    health = healthz_health()
    return JsonResponse(health.public(), status=200 if health.healthy else 503)


class SignInView(auth_views.LoginView):
    """Sign-in for the history pages: any active user (no staff flag needed)."""

    template_name = "history/sign_in.html"
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    next_page = SIGN_IN
