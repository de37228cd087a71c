"""Push queues on the status page and in the Sources admin, from stats written through the
store as a consumer writes them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from notifier.push_health import push_stale_after_seconds, push_status
from notifier.storage.orm import OrmStore
from registrations.sources import Source, source_default
from tests.support.history import user

pytestmark = pytest.mark.django_db

QUEUE = "https://sqs.eu-west-1.amazonaws.com/210987654321/codedeploy-notifier-prod"
OTHER = "https://sqs.us-east-1.amazonaws.com/123456789012/codedeploy-notifier-default"
SOURCES = "/admin/registrations/source/"


@pytest.fixture
def store():
    return OrmStore()


@pytest.fixture
def signed_in(client):
    client.force_login(user("alice"))
    return client


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def prod(queue_url: str = QUEUE) -> Source:
    return Source.objects.create(name="prod", region="eu-west-1", queue_url=queue_url)


def test_the_status_page_says_how_to_set_push_up_when_no_source_has_a_queue(signed_in):
    page = text(signed_in.get("/status/"))
    assert "No source has a push queue" in page
    assert "python manage.py push_setup --source NAME" in page
    assert "docs/push.md" in page


def test_the_status_page_shows_each_push_queues_counts_and_ages(signed_in, store):
    prod()
    now = timezone.now()
    store.push_stats_add(
        QUEUE,
        at=now - timedelta(seconds=40),
        received=7,
        acted=4,
        ignored={"unregistered_application": 2, "malformed": 1},
        oldest_age_seconds=0.35,
    )
    store.push_stats_add(QUEUE, at=now - timedelta(seconds=12))  # an empty long poll
    page = text(signed_in.get("/status/"))
    assert "No source has a push queue" not in page
    row = re.search(rf'<tr data-queue="{re.escape(QUEUE)}">(.*?)</tr>', page).group(1)
    assert "read for prod" in row
    assert "receiving (last receive 12 s ago)" in row
    assert "<td>7</td> <td>4</td>" in row
    assert "1 malformed" in row and "2 unregistered_application" in row
    assert "an application no one registered" in row
    assert ">12 s ago</time>" in row and ">40 s ago</time>" in row
    assert "0.3 s" in row or "0.4 s" in row
    assert row.endswith("<td>none</td>")  # no error


def test_a_queue_with_an_error_or_no_receive_is_shown_not_receiving(signed_in, store):
    prod()
    Source.objects.create(name="silent", queue_url=OTHER)
    store.push_stats_add(QUEUE, at=timezone.now(), error="AWS denied sqs:ReceiveMessage")
    page = text(signed_in.get("/status/"))
    failing = re.search(rf'<tr data-queue="{re.escape(QUEUE)}">(.*?)</tr>', page).group(1)
    assert "not receiving since" in failing
    assert "AWS denied sqs:ReceiveMessage" in failing
    silent = re.search(rf'<tr data-queue="{re.escape(OTHER)}">(.*?)</tr>', page).group(1)
    assert "not receiving: no receive recorded yet (is the service running?)" in silent
    assert "read for silent" in silent


def test_not_receiving_starts_two_waits_and_thirty_seconds_after_the_last_receive(store, settings):
    settings.NOTIFIER_PUSH_WAIT_SECONDS = 20
    assert push_stale_after_seconds() == 70
    now = timezone.now()
    store.push_stats_add(QUEUE, at=now - timedelta(seconds=69))
    [stats] = store.push_stats_list()
    assert push_status(queue_url=QUEUE, stats=stats, now=now).receiving
    later = push_status(queue_url=QUEUE, stats=stats, now=now + timedelta(seconds=2))
    assert later.state == "not_receiving"
    assert later.text.startswith("not receiving since ")
    assert push_status(queue_url="", stats=None, now=now).text == "no queue"


def test_the_sources_admin_shows_a_push_column_and_the_change_page_the_same(staff, store):
    source_default()
    prod()
    Source.objects.create(name="stale", queue_url=OTHER)
    now = timezone.now()
    store.push_stats_add(QUEUE, at=now - timedelta(seconds=12), received=1, acted=1)
    store.push_stats_add(OTHER, at=now - timedelta(minutes=10))
    page = text(staff.get(SOURCES))
    assert '<th scope="col" class="column-push_column">' in page
    cells = {
        name: re.search(rf">{name}</a>(.*?)</tr>", page).group(1)
        for name in ("default", "prod", "stale")
    }
    assert "no queue" in cells["default"]
    assert "receiving (last receive 12 s ago)" in cells["prod"]
    assert "not receiving since" in cells["stale"] and "(10 min ago)" in cells["stale"]

    change = text(staff.get(f"{SOURCES}{Source.objects.get(name='prod').pk}/change/"))
    assert "receiving (last receive 12 s ago)" in change


def test_every_reason_the_consumer_ignores_a_message_for_is_explained():
    import re

    from notifier import push_batch, push_messages
    from notifier.push_health import IGNORED_REASONS

    reasons = {
        value
        for module in (push_messages, push_batch)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z]+(_[a-z]+)*", value)
    }
    assert "malformed" in reasons and "stale" in reasons
    assert reasons <= set(IGNORED_REASONS), reasons - set(IGNORED_REASONS)
