"""The demo's seed, against the demo's simulated AWS in this process and the test database:
what `make demo` starts with, made through the product's own services and commands."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from channels.registry import KINDS
from channels.slack import SlackSetup
from channels.teams import TeamsSetup
from channels.webhook import WebhookSetup
from notifier import codedeploy
from notifier.demo.seed import ADMIN_USER, demo_seed
from notifier.demo.world import DEMO_SENDER, PEOPLE, SOURCES, source, topic_arn
from registrations.models import NotificationSetup, Registration
from registrations.people import Person, PersonRule
from registrations.sources import Source

pytestmark = pytest.mark.django_db
BASE = "http://127.0.0.1:8000"
INBOX = f"{BASE}/demo/inbox/"


@pytest.fixture
def aws(aws, settings):
    """The demo's world (tests/demo/conftest.py), and the settings the launcher gives the demo
    (the inbox's address allowed, the demo's topics and sender allowed)."""
    codedeploy.account_id.cache_clear()
    settings.NOTIFIER_URL_ALLOWLIST = ["127.0.0.1:8000"]
    settings.NOTIFIER_SNS_TOPIC_ALLOWED = [topic_arn(s.name) for s in SOURCES]
    settings.NOTIFIER_SES_FROM_ALLOWED = [DEMO_SENDER]
    return aws


def test_it_makes_both_sources_and_the_default_sources_push_queue(aws):
    report = demo_seed(aws=aws, base_url=BASE, password="correct-horse-battery")

    assert report.sources == ["default", "payments-eu"]
    eu = Source.objects.get(name="payments-eu")
    assert (eu.credentials, eu.region, eu.role_arn) == (
        Source.ROLE,
        "eu-west-1",
        source("payments-eu").role_arn,
    )
    assert eu.account_id == "210987654321" and eu.check_error == ""
    default = Source.objects.get(is_default=True)
    assert default.queue_url and default.queue_url == report.queue_url
    assert not eu.queue_url  # polled only


def test_it_makes_four_registrations_with_setups_of_every_kind_all_at_the_inbox(aws):
    report = demo_seed(aws=aws, base_url=BASE, password="correct-horse-battery")

    registered = {
        (r.source.name, r.codedeploy_application_name, r.team.name)
        for r in Registration.objects.select_related("source", "team")
    }
    assert registered == {
        ("default", "storefront", "Web"),
        ("default", "checkout-api", "Web"),
        ("payments-eu", "payments", "Payments"),
        ("payments-eu", "ledger-worker", "Payments"),
    }
    assert set(NotificationSetup.objects.values_list("kind", flat=True)) == set(KINDS)
    assert report.kinds == sorted(KINDS) and report.registrations == 4
    urls = [s.url for s in WebhookSetup.objects.all()] + [
        s.webhook_url for s in TeamsSetup.objects.all()
    ]
    urls += [s.webhook_url for s in SlackSetup.objects.exclude(webhook_url="")]
    assert urls and all(url.startswith(INBOX) for url in urls), urls
    assert all(s.secret for s in WebhookSetup.objects.all())
    bots = SlackSetup.objects.filter(webhook_url="")
    assert bots and all(s.bot_token.startswith("xoxb-") and s.mention_deployer for s in bots)


def test_it_makes_the_teams_the_people_and_the_admin_user(aws):
    demo_seed(aws=aws, base_url=BASE, password="correct-horse-battery")

    assert {"Web", "Payments"} <= set(Group.objects.values_list("name", flat=True))
    for someone in PEOPLE:
        person = Person.objects.get(email=someone.email)
        assert (person.name, person.slack_user_id) == (someone.name, someone.slack_id)
    maria = PersonRule.objects.get(person__email="maria.garcia@example.com")
    assert (maria.kind, maria.pattern) == (PersonRule.IAM_USER, "maria.garcia")
    sam = PersonRule.objects.get(person__email="sam.lee@example.com")
    assert (sam.kind, sam.pattern) == (PersonRule.SESSION_NAME, "sam.lee@example.com")
    admin = get_user_model().objects.get(username=ADMIN_USER)
    assert admin.is_superuser and admin.check_password("correct-horse-battery")


def test_it_subscribes_each_sources_topic_to_the_inbox_over_http(aws):
    demo_seed(aws=aws, base_url=BASE, password="correct-horse-battery")

    for where in SOURCES:
        sns = aws.client("sns", where.account, where.region)
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn(where.name))
        assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]] == [
            ("http", f"{INBOX}sns/")
        ]


def test_seeding_again_duplicates_nothing_and_replaces_the_password(aws):
    demo_seed(aws=aws, base_url=BASE, password="first-password-1")
    counts = (
        Source.objects.count(),
        Registration.objects.count(),
        NotificationSetup.objects.count(),
        Person.objects.count(),
        PersonRule.objects.count(),
        get_user_model().objects.count(),
    )
    queue_url = Source.objects.get(is_default=True).queue_url

    demo_seed(aws=aws, base_url=BASE, password="second-password-2")

    assert counts == (
        Source.objects.count(),
        Registration.objects.count(),
        NotificationSetup.objects.count(),
        Person.objects.count(),
        PersonRule.objects.count(),
        get_user_model().objects.count(),
    )
    assert Source.objects.get(is_default=True).queue_url == queue_url
    admin = get_user_model().objects.get(username=ADMIN_USER)
    assert admin.check_password("second-password-2")
    assert not admin.check_password("first-password-1")
