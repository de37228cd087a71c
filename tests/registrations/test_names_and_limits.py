"""Application names CodeDeploy allows, a duplicate that names no other team's registration,
and bounds on how many setups and recipients one registration fans out to."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from channels.newrelic import NewRelicSetup
from registrations.models import NotificationSetup, Registration
from tests.registrations.test_admin import ADD_URL, management_data, newrelic_prefix
from tests.support.history import user

pytestmark = pytest.mark.django_db


def api_as(account) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


def body(name: str = "storefront", *, setups: int = 1) -> dict:
    return {
        "codedeploy_application_name": name,
        "notifications": [
            {"newrelic_notification": {"application_name": f"web-{n}"}} for n in range(setups)
        ],
    }


def post(client, data):
    return client.post("/api/registrations/", json.dumps(data), content_type="application/json")


@pytest.fixture
def staff():
    return user("operator", staff=True)


@pytest.fixture
def staff_admin(client, staff):
    client.force_login(staff)
    return client


def admin_post(client, name: str, *, setups: int = 1):
    html = client.get(ADD_URL).content.decode()
    prefix = newrelic_prefix(html)
    data = {
        "codedeploy_application_name": name,
        "enabled": "on",
        "deployment_groups": "",
        **management_data(html),
        f"{prefix}-TOTAL_FORMS": str(setups),
    }
    for n in range(setups):
        data[f"{prefix}-{n}-application_name"] = f"web-{n}"
        data[f"{prefix}-{n}-events"] = ["succeeded"]
        data[f"{prefix}-{n}-enabled"] = "on"
    return client.post(ADD_URL, data)


# --- application names -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["team/app", "my app", "café", "a" * 101, "x?y", "a%2Fb"])
def test_it_refuses_names_codedeploy_does_not_allow_in_the_api(staff, name):
    response = post(api_as(staff), body(name))
    assert response.status_code == 400, response.content
    (message,) = response.json()["codedeploy_application_name"]
    assert "codedeploy_application_name" in message
    assert not Registration.objects.exists()


def test_the_refusal_says_which_characters_codedeploy_allows(staff):
    response = post(api_as(staff), body("team/app"))
    (message,) = response.json()["codedeploy_application_name"]
    assert "'/'" in message
    assert "letters, digits" in message


def test_it_refuses_names_codedeploy_does_not_allow_in_the_admin(staff_admin):
    response = admin_post(staff_admin, "team/app")
    assert response.status_code == 200
    page = response.content.decode()
    assert "codedeploy_application_name" in page and "&#x27;/&#x27;" in page
    assert not Registration.objects.exists()


ODD_BUT_ALLOWED = ["a.b_c-d", "team+app=1,2@x", "A" * 100, "7"]


@pytest.mark.parametrize("name", ODD_BUT_ALLOWED)
def test_it_accepts_every_character_codedeploy_allows(staff, name):
    response = post(api_as(staff), body(name))
    assert response.status_code == 201, response.content


def test_the_admin_list_renders_with_odd_but_allowed_names(staff, staff_admin):
    for name in ODD_BUT_ALLOWED:
        assert post(api_as(staff), body(name)).status_code == 201
    response = staff_admin.get("/admin/registrations/registration/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "team+app=1,2@x" in page


# --- a name registered already -----------------------------------------------------------


@pytest.fixture
def taken_by_payments():
    payments = Group.objects.create(name="payments")
    registration = Registration.objects.create(
        codedeploy_application_name="checkout", team=payments
    )
    NewRelicSetup.objects.create(registration=registration, application_name="web")
    return registration


def test_the_api_says_another_teams_application_is_taken_without_its_id(taken_by_payments):
    search = Group.objects.create(name="search")
    response = post(api_as(user("sam", team=search)), body("checkout"))
    assert response.status_code == 400
    (message,) = response.json()["codedeploy_application_name"]
    assert "is registered already" in message
    assert "another team" in message
    assert str(taken_by_payments.pk) not in message
    assert "payments" not in message
    assert Registration.objects.count() == 1


def test_the_api_tells_the_owning_team_which_registration_to_update(taken_by_payments):
    payments = Group.objects.get(name="payments")
    response = post(api_as(user("pat", team=payments)), body("checkout"))
    (message,) = response.json()["codedeploy_application_name"]
    assert f"registration {taken_by_payments.pk}" in message


def test_the_admin_says_another_teams_application_is_taken_without_its_id(
    client, taken_by_payments
):
    search = Group.objects.create(name="search")
    client.force_login(user("sam", team=search))
    html = client.get(ADD_URL).content.decode()
    prefix = newrelic_prefix(html)
    response = client.post(
        ADD_URL,
        {
            "codedeploy_application_name": "checkout",
            "team": search.pk,
            "enabled": "on",
            **management_data(html),
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-0-application_name": "web",
            f"{prefix}-0-events": ["succeeded"],
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "is registered already by another team" in page
    assert f"/registration/{taken_by_payments.pk}/" not in page
    assert f"registration {taken_by_payments.pk}" not in page
    assert Registration.objects.count() == 1


# --- setups per registration and recipients per setup ------------------------------------


def test_the_api_refuses_more_setups_than_the_limit_naming_field_and_limit(staff):
    response = post(api_as(staff), body(setups=21))
    assert response.status_code == 400
    (message,) = response.json()["notifications"]
    assert "at most 20" in message and "NOTIFIER_MAX_SETUPS_PER_REGISTRATION" in message
    assert not Registration.objects.exists()
    assert post(api_as(staff), body(setups=20)).status_code == 201


def test_the_limit_is_a_setting(staff, settings):
    settings.NOTIFIER_MAX_SETUPS_PER_REGISTRATION = 2
    assert post(api_as(staff), body(setups=3)).status_code == 400
    assert post(api_as(staff), body(setups=2)).status_code == 201


def test_an_update_cannot_grow_past_the_limit(staff, settings):
    settings.NOTIFIER_MAX_SETUPS_PER_REGISTRATION = 2
    created = post(api_as(staff), body(setups=2)).json()
    response = api_as(staff).patch(
        f"/api/registrations/{created['id']}/",
        json.dumps(body(setups=3)),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "at most 2" in response.json()["notifications"][0]
    assert NotificationSetup.objects.count() == 2


def test_ten_thousand_setups_are_refused_before_any_is_checked(
    staff, django_assert_max_num_queries
):
    # Refused on the count alone: a handful of queries (the user, the token), not one per
    # setup; how long it takes is measured by hand, never asserted here.
    with django_assert_max_num_queries(10):
        response = post(api_as(staff), body(setups=10_000))
    assert response.status_code == 400
    assert "at most" in str(response.json()), response.json()
    assert not NotificationSetup.objects.exists()


def test_the_admin_refuses_more_setups_than_the_limit(staff_admin, settings):
    settings.NOTIFIER_MAX_SETUPS_PER_REGISTRATION = 2
    response = admin_post(staff_admin, "storefront", setups=3)
    assert response.status_code == 200
    page = response.content.decode()
    assert "at most 2 notification setups" in page
    assert "NOTIFIER_MAX_SETUPS_PER_REGISTRATION" in page
    assert not Registration.objects.exists()
    response = admin_post(staff_admin, "storefront", setups=2)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_the_admin_counts_setups_of_every_kind_together(staff_admin, settings):
    settings.NOTIFIER_MAX_SETUPS_PER_REGISTRATION = 1
    html = staff_admin.get(ADD_URL).content.decode()
    nr = newrelic_prefix(html)
    # Email (SMTP) comes before SES, which has recipients too.
    email = re.search(r'name="([\w-]+)-__prefix__-recipients"', html).group(1)
    response = staff_admin.post(
        ADD_URL,
        {
            "codedeploy_application_name": "storefront",
            "enabled": "on",
            **management_data(html),
            f"{nr}-TOTAL_FORMS": "1",
            f"{nr}-0-application_name": "web",
            f"{nr}-0-events": ["succeeded"],
            f"{email}-TOTAL_FORMS": "1",
            f"{email}-0-recipients": "ops@example.com",
            f"{email}-0-events": ["failed"],
        },
    )
    assert response.status_code == 200
    assert "at most 1 notification setup" in response.content.decode()
    assert not Registration.objects.exists()


def recipients(n: int) -> str:
    return ", ".join(f"person{i}@example.com" for i in range(n))


def test_the_api_refuses_more_recipients_than_the_limit_naming_field_and_limit(staff):
    data = {
        "codedeploy_application_name": "storefront",
        "notifications": [{"email_notification": {"recipients": recipients(51)}}],
    }
    response = post(api_as(staff), data)
    assert response.status_code == 400
    (message,) = response.json()["notifications"][0]["email_notification"]["recipients"]
    assert "recipients" in message and "at most 50" in message
    assert "NOTIFIER_MAX_RECIPIENTS" in message
    data["notifications"][0]["email_notification"]["recipients"] = recipients(50)
    assert post(api_as(staff), data).status_code == 201


def test_the_recipient_limit_is_a_setting(staff, settings):
    settings.NOTIFIER_MAX_RECIPIENTS = 2
    data = {
        "codedeploy_application_name": "storefront",
        "notifications": [{"email_notification": {"recipients": recipients(3)}}],
    }
    response = post(api_as(staff), data)
    assert response.status_code == 400
    assert "at most 2" in json.dumps(response.json())


def test_the_admin_list_renders_with_a_name_stored_before_names_were_checked(staff_admin):
    Registration.objects.create(codedeploy_application_name="team/app")  # straight into the DB
    response = staff_admin.get("/admin/registrations/registration/")
    assert response.status_code == 200
    assert "team/app" in response.content.decode()


def test_the_service_itself_refuses_what_the_api_and_admin_refuse():
    """For callers other than the API and the admin (the engine as a library)."""
    from django.core.exceptions import ValidationError

    from registrations.services import registration_create

    one = [("newrelic", {"application_name": "web"})]
    with pytest.raises(ValidationError) as caught:
        registration_create(codedeploy_application_name="team/app", setups=one)
    assert "codedeploy_application_name" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        registration_create(codedeploy_application_name="storefront", setups=one * 21)
    assert "NOTIFIER_MAX_SETUPS_PER_REGISTRATION" in caught.value.message_dict["notifications"][0]
    assert not Registration.objects.exists()
