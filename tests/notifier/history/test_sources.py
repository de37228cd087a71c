"""Every history page shows the source (AWS account and region) a deployment came from."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from notifier.codedeploy import console_url
from notifier.history import listing
from notifier.storage.history_rows import HistoryFilters
from notifier.storage.orm import OrmStore
from registrations.sources import Source
from tests.support.history import deployment_event, register, seed_deployment, user

pytestmark = pytest.mark.django_db

PROD, STAGING = "111111111111", "222222222222"


@pytest.fixture
def member(client):
    client.force_login(user("alice"))
    return client


@pytest.fixture
def sources():
    Source.objects.create(name="prod-eu", region="eu-west-1", account_id=PROD)
    Source.objects.create(name="staging-us", region="us-east-1", account_id=STAGING)


def seed(deployment_id, application, *, account, region, status="Succeeded", minutes_ago=10):
    event = deployment_event(
        deployment_id,
        application,
        status=status,
        created=timezone.now() - timedelta(minutes=minutes_ago),
    )
    event = dataclasses.replace(
        event,
        account=account,
        region=region,
        console_url=console_url(deployment_id, region),
    )
    seed_deployment(OrmStore(), event)
    return event


def ids(response) -> list[str]:
    return re.findall(r'href="/deployments/(d-[A-Z0-9]+)/"', response.content.decode())


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_it_filters_the_list_by_account_region_and_source(member, sources):
    register("storefront")
    seed("d-PROD00001", "storefront", account=PROD, region="eu-west-1", minutes_ago=1)
    seed("d-PROD00002", "storefront", account=PROD, region="us-east-1", minutes_ago=2)
    seed("d-STAG00001", "storefront", account=STAGING, region="us-east-1", minutes_ago=3)

    def listed(**params):
        return ids(member.get("/", params))

    assert listed() == ["d-PROD00001", "d-PROD00002", "d-STAG00001"]
    assert listed(account=PROD) == ["d-PROD00001", "d-PROD00002"]
    assert listed(region="us-east-1") == ["d-PROD00002", "d-STAG00001"]
    assert listed(account=PROD, region="us-east-1") == ["d-PROD00002"]
    assert listed(source="prod-eu") == ["d-PROD00001"]
    assert listed(source="staging-us") == ["d-STAG00001"]


def test_it_shows_each_rows_source_name_account_and_region(member, sources):
    register("storefront")
    seed("d-PROD00001", "storefront", account=PROD, region="eu-west-1", minutes_ago=1)
    seed("d-ELSE00001", "storefront", account="333333333333", region="ap-south-1")
    page = text(member.get("/"))
    assert f'prod-eu<br><small class="muted">{PROD} · eu-west-1</small>' in page
    assert "333333333333 · ap-south-1" in page  # no source watches it: account and region


def test_it_keeps_the_source_filter_on_the_next_page(member, sources):
    register("storefront")
    for n in range(3):
        seed(f"d-PROD0000{n}", "storefront", account=PROD, region="eu-west-1", minutes_ago=n)
    seed("d-STAG00001", "storefront", account=STAGING, region="us-east-1", minutes_ago=1)
    first = listing.deployment_list(
        filters=HistoryFilters(source="prod-eu", account=PROD, region="eu-west-1"), per_page=2
    )
    assert first.older["source"] == "prod-eu"
    assert first.older["account"] == PROD and first.older["region"] == "eu-west-1"
    older = ids(member.get("/", first.older))
    assert older == ["d-PROD00002"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"account": "12345"}, "Account: the account must be a 12-digit AWS account id"),
        ({"region": "Europe"}, "Region: the region must be an AWS region code, e.g. eu-west-1"),
        ({"source": "nowhere"}, "Source: no source is named nowhere; choose one from the list"),
        (
            {"source": "prod-eu", "account": STAGING},
            f"Source: the source prod-eu is account {PROD}, not {STAGING}",
        ),
    ],
)
def test_it_names_the_field_of_a_wrong_source_filter(member, sources, params, words):
    register("storefront")
    assert words in text(member.get("/", params))


def test_the_deployment_page_shows_the_source_and_links_the_console_in_its_region(member, sources):
    register("storefront")
    seed("d-PROD00001", "storefront", account=PROD, region="eu-west-1")
    page = text(member.get("/deployments/d-PROD00001/"))
    assert "prod-eu" in page and PROD in page and "eu-west-1" in page
    assert "https://eu-west-1.console.aws.amazon.com/codesuite/codedeploy/deployments/" in page
    assert "region=eu-west-1" in page


def test_the_same_application_in_two_sources_is_listed_apart(member, sources):
    register("storefront")
    seed("d-PROD00001", "storefront", account=PROD, region="eu-west-1", minutes_ago=1)
    seed("d-STAG00001", "storefront", account=STAGING, region="us-east-1", minutes_ago=2)
    both = member.get("/applications/storefront/")
    assert ids(both) == ["d-PROD00001", "d-STAG00001"]
    page = text(both)
    assert "prod-eu" in page and "staging-us" in page
    assert ids(member.get("/applications/storefront/", {"source": "prod-eu"})) == ["d-PROD00001"]
    staging = member.get("/applications/storefront/", {"source": "staging-us"})
    assert ids(staging) == ["d-STAG00001"]
    assert "1 of 1 finished" in text(staging)  # the figures count this source only


def test_an_unknown_source_on_the_application_page_names_the_parameter(member, sources):
    register("storefront")
    seed("d-PROD00001", "storefront", account=PROD, region="eu-west-1")
    response = member.get("/applications/storefront/", {"source": "nowhere"})
    assert response.status_code == 400
    assert "source: no source is named nowhere" in text(response)


def test_the_dashboard_counts_deployments_and_failures_per_source(member, sources):
    register("storefront")
    seed("d-PROD00001", "storefront", account=PROD, region="eu-west-1", minutes_ago=1)
    seed(
        "d-PROD00002",
        "storefront",
        account=PROD,
        region="eu-west-1",
        status="Failed",
        minutes_ago=2,
    )
    seed("d-STAG00001", "storefront", account=STAGING, region="us-east-1", minutes_ago=3)
    page = text(member.get("/dashboard/"))
    assert (
        f'<tr><th scope="row">prod-eu</th><td>{PROD}</td><td>eu-west-1</td>'
        "<td>2</td><td>1</td></tr>" in page
    )
    assert (
        f'<tr><th scope="row">staging-us</th><td>{STAGING}</td><td>us-east-1</td>'
        "<td>1</td><td>0</td></tr>" in page
    )
