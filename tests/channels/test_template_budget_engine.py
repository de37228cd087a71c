"""A template bomb written straight into the database (past every validation) fails only its
own delivery, permanently, through the real engine: poll CodeDeploy (moto), create the
deliveries, send them on the dispatcher's threads. Every other setup's notification for the
same deployment arrives, and test sends and the admin preview stay within the budget too."""

from __future__ import annotations

import time

import pytest
from werkzeug import Request, Response

from channels.slack import SlackSetup
from channels.teams import TeamsSetup
from channels.webhook import WebhookSetup
from notifier import codedeploy as cd
from notifier.dispatch import Dispatcher
from notifier.poller import deployment_poll
from notifier.storage.base import DELIVERED, FAILED
from notifier.storage.orm import OrmStore
from registrations.models import NotificationSetup, Registration
from registrations.testing import registration_test_send
from tests.channels.template_bombs import FLOOD, HIDDEN, NESTED_LOOPS

pytestmark = pytest.mark.django_db(transaction=True)
BOMBS = {
    # Checked again when it renders: refused before a single loop runs.
    "hidden loops": (HIDDEN, "is not allowed: line 1: {% for %} loops only over a list"),
    "nested loops": (NESTED_LOOPS, "is not allowed: line 1: {% for %} loops only over a list"),
    # Within the dialect: stopped by the render budget.
    "flood": (FLOOD, "rendered more than 64 KiB; simplify it"),
}


class Arrivals:
    """The local server's endpoints, noting when each request arrived."""

    def __init__(self, server, paths) -> None:
        self.times: dict[str, float] = {}
        for path in paths:
            server.expect_request(path, method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        self.times[request.path] = time.monotonic()
        if request.path.startswith("/teams"):
            return Response("", status=202)  # what a Teams workflow answers
        return Response("ok", status=200)  # what a Slack incoming webhook answers


def setups(registration, httpserver, bomb: str):
    url = httpserver.url_for
    bad = SlackSetup.objects.create(
        registration=registration, webhook_url=url("/slack/bomb"), events=["succeeded"]
    )
    NotificationSetup.objects.filter(pk=bad.pk).update(body_template=bomb)
    good = [
        SlackSetup.objects.create(
            registration=registration,
            webhook_url=url("/slack/ok"),
            events=["succeeded"],
            body_template="{{ event.application }} {{ event_label|lower }}",
        ),
        TeamsSetup.objects.create(
            registration=registration, webhook_url=url("/teams/ok"), events=["succeeded"]
        ),
        WebhookSetup.objects.create(
            registration=registration, url=url("/hook/ok"), events=["succeeded"]
        ),
    ]
    return bad, good


@pytest.mark.parametrize("bomb", BOMBS, ids=list(BOMBS))
def test_a_bomb_in_the_database_fails_only_its_own_delivery_permanently(
    codedeploy, httpserver, allow_local, bomb
):
    text, reason = BOMBS[bomb]
    arrivals = Arrivals(httpserver, ["/slack/bomb", "/slack/ok", "/teams/ok", "/hook/ok"])
    # Not "storefront": the samples a save renders would never have set this bomb off.
    registration = Registration.objects.create(codedeploy_application_name="checkout")
    bad, good = setups(registration, httpserver, text)
    deployment = codedeploy.deploy("checkout")
    codedeploy.move(deployment, "Succeeded")
    store = OrmStore()
    counter = cd.CallCounter()
    report = deployment_poll(store=store, client=cd.make_client(counter=counter), counter=counter)
    assert len(report.deliveries) == 4

    dispatcher = Dispatcher(store=store, holder="n1", threads=4)
    began = time.monotonic()
    try:
        assert dispatcher.dispatch_due() == 4
        deadline = began + 20
        while time.monotonic() < deadline:
            states = {k.setup_id: store.delivery_get(k).state for k in report.deliveries}
            if set(states.values()) <= {DELIVERED, FAILED}:
                break
            time.sleep(0.01)
        finished = time.monotonic() - began
    finally:
        dispatcher.close()

    assert states == {bad.pk: FAILED, **{setup.pk: DELIVERED for setup in good}}
    assert set(arrivals.times) == {"/slack/ok", "/teams/ok", "/hook/ok"}
    failed = store.delivery_get(next(k for k in report.deliveries if k.setup_id == bad.pk))
    (attempt,) = failed.history
    assert attempt.error.startswith("the body template of setup 'Slack webhook' ")
    assert reason in attempt.error
    assert failed.next_attempt_at is None  # never retried
    timings = {path: round((t - began) * 1000) for path, t in arrivals.times.items()}
    print(f"\n{bomb}: all settled in {finished * 1000:.0f} ms; arrivals (ms): {timings}")
    assert max(arrivals.times.values()) - began < 10  # a generous sanity bound, not a benchmark


def test_a_test_send_reports_a_bomb_without_a_retry(httpserver, allow_local):
    Arrivals(httpserver, ["/slack/bomb", "/slack/ok", "/teams/ok", "/hook/ok"])
    registration = Registration.objects.create(codedeploy_application_name="checkout")
    bad, good = setups(registration, httpserver, FLOOD)

    results = {r.setup_id: r for r in registration_test_send(registration=registration)}

    assert results[bad.pk].delivered is False and results[bad.pk].retryable is False
    assert results[bad.pk].error == (
        "the body template of setup 'Slack webhook' rendered more than 64 KiB; simplify it"
    )
    assert all(results[setup.pk].delivered for setup in good)


def test_the_admin_preview_of_a_bomb_says_why_and_shows_the_others(client, httpserver):
    from django.contrib.auth.models import User

    registration = Registration.objects.create(codedeploy_application_name="checkout")
    bad, good = setups(registration, httpserver, HIDDEN)
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    began = time.monotonic()
    page = client.get(f"/admin/registrations/registration/{registration.pk}/change/")
    assert time.monotonic() - began < 5
    text = page.content.decode().replace("&#x27;", "'")
    assert (
        "No preview until the template renders: the body template of setup 'Slack webhook' "
        "is not allowed: line 1:" in text
    )
    assert "checkout succeeded" in text  # the good Slack setup's own template
