"""The Sources admin and the source choice on a registration, through Django's test client;
moto's STS over HTTP answers the identity checks."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from notifier.sources import boto3_session_for
from registrations.models import Registration
from registrations.sources import Source, source_default
from tests.registrations.test_admin import ADD_URL, management_data, newrelic_prefix
from tests.support.aws import ACCOUNT

pytestmark = pytest.mark.django_db

OTHER_ACCOUNT = "210987654321"
ROLE = f"arn:aws:iam::{OTHER_ACCOUNT}:role/codedeploy-notifier"
SOURCES = "/admin/registrations/source/"


@pytest.fixture(autouse=True)
def fresh_sessions(aws):
    boto3_session_for.cache_clear()


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def source_form(**fields) -> dict[str, str]:
    return {
        "name": "prod",
        "region": "eu-west-1",
        "credentials": "role",
        "role_arn": ROLE,
        "external_id": "x-123456",
        "enabled": "on",
        **fields,
    }


def test_the_add_page_explains_own_and_role_credentials(staff_client):
    html = staff_client.get(f"{SOURCES}add/").content.decode()
    assert "docs/source-role.json" in html
    assert "Every enabled source is polled on its own" in html
    assert "push_setup --source" in html
    assert 'type="password" name="external_id"' in html
    assert "The region to watch" in html or "AWS region to watch" in html


def test_a_role_source_saved_in_the_admin_shows_the_roles_account(staff_client):
    response = staff_client.post(f"{SOURCES}add/", source_form(), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Source &#x27;prod&#x27; acts in account {OTHER_ACCOUNT}" in page
    source = Source.objects.get(name="prod")
    assert (source.account_id, source.external_id) == (OTHER_ACCOUNT, "x-123456")

    edit = staff_client.get(f"{SOURCES}{source.pk}/change/").content.decode()
    assert "x-123456" not in edit  # the external id is never sent back
    assert "Stored: " in edit
    response = staff_client.post(
        f"{SOURCES}{source.pk}/change/", source_form(external_id="", region="us-west-2")
    )
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.region, source.external_id) == ("us-west-2", "x-123456")


def test_a_wrong_role_arn_is_shown_at_its_field(staff_client):
    response = staff_client.post(f"{SOURCES}add/", source_form(role_arn="arn:aws:iam::1:role/x"))
    assert response.status_code == 200
    assert "12-digit account id" in response.content.decode()
    assert not Source.objects.filter(name="prod").exists()


def test_check_now_shows_each_sources_account(staff_client):
    default = source_default()
    response = staff_client.post(
        SOURCES, {"action": "check_now", "_selected_action": [default.pk]}, follow=True
    )
    assert f"Source &#x27;default&#x27; acts in account {ACCOUNT}" in response.content.decode()
    default.refresh_from_db()
    assert default.account_id == ACCOUNT and default.last_checked is not None


def test_the_default_source_cannot_be_deleted_in_the_admin(staff_client):
    default = source_default()
    response = staff_client.get(f"{SOURCES}{default.pk}/delete/")
    assert response.status_code == 403
    assert Source.objects.filter(pk=default.pk).exists()


def test_a_new_registration_offers_the_sources_with_the_default_chosen(staff_client):
    Source.objects.create(name="prod", credentials="role", role_arn=ROLE)
    html = staff_client.get(ADD_URL).content.decode()
    default = source_default()
    assert re.search(rf'<option value="{default.pk}" selected>default</option>', html), html
    assert ">prod</option>" in html

    prefix = newrelic_prefix(html)
    data = {
        "codedeploy_application_name": "storefront",
        "enabled": "on",
        **management_data(html),
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-0-application_name": "web",
        f"{prefix}-0-events": ["succeeded"],
    }
    prod = Source.objects.get(name="prod")
    assert staff_client.post(ADD_URL, {**data, "source": prod.pk}).status_code == 302
    assert staff_client.post(ADD_URL, {**data, "source": default.pk}).status_code == 302
    response = staff_client.post(ADD_URL, {**data, "source": prod.pk})
    assert response.status_code == 200
    assert "is registered already in source &#x27;prod&#x27;" in response.content.decode()
    assert sorted(Registration.objects.values_list("source__name", flat=True)) == [
        "default",
        "prod",
    ]
