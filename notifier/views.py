"""History pages: what deployments were seen, what every notification did, how releases go.

Views stay thin: the reads are selectors in notifier.history; the one write (a resend) is
notifier.history.delivery_resend. Every page needs a signed-in user; anyone signed in reads
all history, and only a registration's team (or staff) may resend.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from notifier import charts, history
from notifier.checks import provider_problems
from notifier.events import STATUSES, Event
from notifier.ratelimit import RateLimited
from notifier.storage import get_store, history_database
from notifier.storage.base import StorageError
from registrations.models import Registration
from registrations.teams import registration_editable

SIGN_IN = "sign-in"
signed_in = login_required(login_url=SIGN_IN)


class HistoryFilterForm(forms.Form):
    """The deployment list's filters. Unknown values are errors that name the field."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="A deployment id, a revision (commit, bucket/key) or a creator.",
    )
    application = forms.CharField(label="Application", required=False, max_length=100)
    deployment_group = forms.CharField(label="Deployment group", required=False, max_length=100)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status")] + [(s, s) for s in STATUSES]
    )
    event = forms.ChoiceField(
        label="Event",
        required=False,
        choices=[("", "Any event")] + [(e.value, e.label) for e in Event],
    )
    kind = forms.ChoiceField(label="Channel", required=False, choices=[("", "Any channel")])
    outcome = forms.ChoiceField(
        label="Delivery outcome",
        required=False,
        choices=[("", "Any outcome")] + list(history.OUTCOME_LABELS.items()),
    )
    since = forms.DateField(
        label="From date", required=False, widget=forms.DateInput({"type": "date"})
    )
    until = forms.DateField(
        label="To date", required=False, widget=forms.DateInput({"type": "date"})
    )

    def __init__(self, *args, kinds=(), applications=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Any channel"), *kinds]
        self.application_names = list(applications)

    def _clean_date(self, name: str, words: str):
        value = self.cleaned_data.get(name)
        if value and not history.EARLIEST_DATE <= value <= history.LATEST_DATE:
            raise forms.ValidationError(
                f"the {words} must be between {history.EARLIEST_DATE.isoformat()} and "
                f"{history.LATEST_DATE.isoformat()}; leave it empty for no limit"
            )
        return value

    def clean_since(self):
        return self._clean_date("since", "from date")

    def clean_until(self):
        return self._clean_date("until", "to date")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "the to date must be on or after the from date")
        return data

    def filters(self) -> history.HistoryFilters:
        if not self.is_bound:
            return history.HistoryFilters()
        # The valid filters apply even when another is wrong (its error shows beside it).
        self.is_valid()
        data = self.cleaned_data
        return history.HistoryFilters(
            **{
                name: data.get(name) or ("" if name not in ("since", "until") else None)
                for name in (
                    "application",
                    "deployment_group",
                    "status",
                    "event",
                    "kind",
                    "outcome",
                    "since",
                    "until",
                    "q",
                )
            }
        )


MAX_PAGE_NUMBER = 1_000_000  # 50 million deployments at 50 a page


def _page_number(request) -> tuple[int, str]:
    """The page asked for (pages are numbered only without a history database), and why it
    was refused when it was."""
    raw = request.GET.get("page", "")
    if not raw:
        return 1, ""
    if raw.isascii() and raw.isdigit() and len(raw) <= 7 and 1 <= int(raw) <= MAX_PAGE_NUMBER:
        return int(raw), ""
    return 1, (
        f"The page must be a whole number from 1 to {MAX_PAGE_NUMBER:,}; showing the newest "
        "deployments instead."
    )


def _cursors(request) -> tuple[str, str, str]:
    """The list's `before` and `after` cursors; a damaged one is dropped, and said so."""
    before, after = request.GET.get("before", ""), request.GET.get("after", "")
    for name, value in (("before", before), ("after", after)):
        if value and history.cursor_decode(value) is None:
            return (
                "",
                "",
                (
                    f"The page link is damaged or out of range ({name}=…); showing the newest "
                    "deployments instead. Use the Newer and Older links to page."
                ),
            )
    return before, after, ""


def _query(params: dict[str, str] | None) -> str | None:
    return "?" + urlencode(params) if params is not None else None


@signed_in
def deployment_list(request):
    choices = history.filter_choices()
    form = HistoryFilterForm(
        request.GET or None, kinds=choices["kinds"], applications=choices["applications"]
    )
    filters = form.filters()
    before, after, cursor_error = _cursors(request)
    page_number, page_error = _page_number(request)
    page = history.deployment_list(filters=filters, before=before, after=after, page=page_number)
    filtering = bool(filters.as_params())
    context = {
        "form": form,
        "page": page,
        "newer_url": _query(page.newer),
        "older_url": _query(page.older),
        "newest_url": _query(filters.as_params()),
        "filtering": filtering,
        "paging_errors": [e for e in (cursor_error, page_error) if e],
        "applications": choices["applications"],
        "has_registrations": bool(choices["applications"]),
    }
    if not page.rows and not filtering:
        context["poller"] = _poller_or_none()
    return render(request, "history/deployment_list.html", context)


def _poller_or_none():
    try:
        return history.poller_health()
    except StorageError:
        return None


def _refuse_control_characters(value: str, what: str) -> None:
    """No deployment or application is named with control characters (and PostgreSQL refuses
    a NUL in a query): such a path is a 404, not a database error."""
    if history.has_control_characters(value):
        raise Http404(f"No {what} has a name with control characters.")


@signed_in
def deployment_detail(request, deployment_id: str):
    _refuse_control_characters(deployment_id, "deployment")
    detail = history.deployment_detail(deployment_id=deployment_id, user=request.user)
    if detail is None:
        raise Http404(f"No deployment {deployment_id} has been seen.")
    return render(
        request, "history/deployment_detail.html", {"detail": detail, "event": detail.event}
    )


@signed_in
@require_POST
def delivery_resend(request, deployment_id: str):
    """Resend one notification of this deployment now (recorded as a new attempt)."""
    event = request.POST.get("event", "")
    try:
        setup_id = int(request.POST.get("setup", ""))
    except ValueError:
        messages.error(request, "Resend needs the notification's setup; reload the page and retry.")
        return redirect("deployment-detail", deployment_id=deployment_id)
    key = history.DeliveryKey(deployment_id, event, setup_id)
    try:
        state = history.delivery_resend(key=key, user=request.user)
    except RateLimited as exc:
        messages.error(request, f"Not resent: {exc}.")
        detail = history.deployment_detail(deployment_id=deployment_id, user=request.user)
        if detail is None:
            raise Http404(f"No deployment {deployment_id} has been seen.") from None
        context = {"detail": detail, "event": detail.event}
        response = render(request, "history/deployment_detail.html", context, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except history.ResendRefused as exc:
        messages.error(request, f"Not resent: {exc}.")
        if not exc.forbidden:
            return redirect("deployment-detail", deployment_id=deployment_id)
        detail = history.deployment_detail(deployment_id=deployment_id, user=request.user)
        if detail is None:
            raise Http404(f"No deployment {deployment_id} has been seen.") from None
        context = {"detail": detail, "event": detail.event}
        return render(request, "history/deployment_detail.html", context, status=403)
    words = {
        "delivered": "sent and delivered",
        "pending": "sent; it failed and will be retried",
        "failed": "sent, and it failed again",
        "dead": "sent, and it failed again",
    }
    level = messages.SUCCESS if state == "delivered" else messages.WARNING
    messages.add_message(request, level, f"The {event} notification was {words.get(state, state)}.")
    url = reverse("deployment-detail", args=[deployment_id])
    return redirect(f"{url}#setup-{setup_id}")


@signed_in
def application_detail(request, application: str):
    _refuse_control_characters(application, "application")
    summary = history.application_summary(application=application)
    if summary.registration is None and not summary.recent.rows:
        raise Http404(f"{application} is not registered and no deployment of it has been seen.")
    weekly_chart = charts.stacked_bars(
        [(week.strftime("%d %b"), {"Deployments": n}) for week, n in summary.weekly],
        keys=("Deployments",),
        label=f"Deployments of {application} per week over {summary.window_days} days",
    )
    return render(
        request,
        "history/application_detail.html",
        {
            "summary": summary,
            "weekly_chart": weekly_chart,
            "can_edit": registration_editable(user=request.user, registration=summary.registration),
            "poller": _poller_or_none() if not summary.recent.rows else None,
        },
    )


@signed_in
def dashboard(request):
    board = history.dashboard()
    per_day = charts.stacked_bars(
        [(day.strftime("%d %b"), counts) for day, counts in board.per_day],
        keys=history.OUTCOME_BUCKETS,
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
    return render(
        request,
        "history/dashboard.html",
        {
            "board": board,
            "per_day_chart": per_day,
            "failure_chart": failure,
            "latency_chart": latency,
        },
    )


@signed_in
def status(request):
    try:
        health = history.poller_health()
        storage_error = ""
    except StorageError as exc:
        health, storage_error = None, str(exc)
    depth = history.queue_depth() if health else None
    return render(
        request,
        "history/status.html",
        {
            "health": health,
            "storage_error": storage_error,
            "depth": depth,
            "history_database": history_database(),
            "now": timezone.now(),
            "has_registrations": Registration.objects.exists(),
            "configuration_problems": provider_problems(),
        },
    )


def healthz(request):
    """200 while the poller succeeded recently, 503 otherwise (for load balancers).

    Anyone can reach it, so it answers the status and the lag only: the last AWS error can
    name a role ARN and an account id, a storage error hosts and tables; /status/ shows them
    to signed-in users.
    """
    try:
        health = history.poller_health(store=get_store())
    except StorageError:
        return JsonResponse({"status": "unhealthy", "reason": "storage unreachable"}, status=503)
    body = {
        "status": "ok" if health.healthy else "unhealthy",
        "poll_lag_seconds": round(health.lag_seconds, 1)
        if health.lag_seconds is not None
        else None,
    }
    return JsonResponse(body, status=200 if health.healthy else 503)


class SignInView(auth_views.LoginView):
    """Sign-in for the history pages: any active user (no staff flag needed)."""

    template_name = "history/sign_in.html"
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    next_page = SIGN_IN
