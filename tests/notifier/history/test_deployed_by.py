"""Who deployed, in the history: a "Deployed by" column and filter on the list, and the
principal, the person and the matching rule on the deployment's page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from notifier.events import Deployer
from notifier.storage.orm import OrmStore
from tests.notifier.history.test_views import (
    deployment_ids,
    seed,
    text,
    without_a_history_database,
)
from tests.support.history import register, user

pytestmark = pytest.mark.django_db

ANA = Deployer(
    kind="person",
    name="Ana Lima",
    email="ana@example.com",
    principal_arn="arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev/ana@example.com",
    rule="built-in rule: a session name that is an email address is that person",
)
BOT = Deployer(kind="principal", name="deploy-bot (role)", rule="no People rule matches")


@pytest.fixture
def store():
    return OrmStore()


@pytest.fixture
def member(client):
    team = Group.objects.create(name="storefront-team")
    client.force_login(user("alice", team=team))
    register("storefront", team=team)
    return client


@pytest.fixture
def seeded(store):
    seed(store, "d-ANA000001", "storefront", None, deployer=ANA, minutes_ago=30)
    seed(store, "d-BOT000001", "storefront", None, deployer=BOT, minutes_ago=20)
    seed(store, "d-ASG000001", "storefront", None, creator="autoscaling", minutes_ago=10)
    seed(
        store,
        "d-ASG000002",
        "storefront",
        None,
        creator="autoscaling",
        deployer=Deployer(kind="category", name="Auto Scaling"),
        minutes_ago=5,
    )


def test_the_list_shows_who_deployed_each(member, seeded):
    page = text(member.get("/"))
    assert '<th scope="col">Deployed by</th>' in page
    assert '<td data-label="Deployed by">Ana Lima</td>' in page
    assert '<td data-label="Deployed by">deploy-bot (role)</td>' in page
    assert '<td data-label="Deployed by">Auto Scaling</td>' in page


def test_the_list_filters_by_part_of_who_deployed(member, seeded):
    assert deployment_ids(member.get("/", {"deployed_by": "ana"})) == ["d-ANA000001"]
    assert deployment_ids(member.get("/", {"deployed_by": "ROLE"})) == ["d-BOT000001"]
    assert deployment_ids(member.get("/", {"deployed_by": "auto scaling"})) == [
        "d-ASG000002",
        "d-ASG000001",
    ]


def test_without_a_history_database_the_filter_needs_the_mirror(member, seeded, monkeypatch):
    without_a_history_database(monkeypatch)
    page = text(member.get("/", {"deployed_by": "ana"}))
    assert "Filtering by deployed by needs the audit mirror" in page


def test_the_deployment_page_shows_the_principal_the_person_and_the_rule(member, seeded):
    page = text(member.get("/deployments/d-ANA000001/"))
    assert "<dt>Deployed by</dt><dd>Ana Lima &lt;ana@example.com&gt;" in page
    assert "assumed-role/AWSReservedSSO_Dev/ana@example.com" in page
    assert "built-in rule: a session name that is an email address is that person" in page
