from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from registrations.models import Registration
from tests.support.history import PASSWORD, register, user

pytestmark = pytest.mark.django_db

BODY = {
    "codedeploy_application_name": "checkout",
    "notifications": [{"newrelic_notification": {"application_name": "web"}}],
}


@pytest.fixture
def teams():
    return Group.objects.create(name="payments"), Group.objects.create(name="search")


def api_as(account) -> APIClient:
    client = APIClient()
    client.force_authenticate(account)
    return client


def post(client, body):
    return client.post("/api/registrations/", json.dumps(body), content_type="application/json")


# --- the REST API ------------------------------------------------------------------------


def test_a_member_lists_only_their_teams_registrations(teams):
    payments, search = teams
    register("checkout", team=payments)
    register("finder", team=search)
    body = api_as(user("pat", team=payments)).get("/api/registrations/").json()
    assert [r["codedeploy_application_name"] for r in body["results"]] == ["checkout"]
    staff = api_as(user("ops", staff=True)).get("/api/registrations/").json()
    assert {r["codedeploy_application_name"] for r in staff["results"]} == {"checkout", "finder"}


def test_a_new_registration_joins_the_members_only_team(teams):
    payments, _ = teams
    response = post(api_as(user("pat", team=payments)), BODY)
    assert response.status_code == 201, response.content
    assert response.json()["team"] == "payments"
    assert Registration.objects.get().team == payments


def test_a_member_cannot_assign_another_team_and_nothing_is_saved(teams):
    payments, _ = teams
    response = post(api_as(user("pat", team=payments)), {**BODY, "team": "search"})
    assert response.status_code == 400
    assert response.json() == {
        "team": ["you are not a member of search; choose one of your teams (payments)"]
    }
    assert not Registration.objects.exists()


def test_a_member_of_two_teams_must_name_one(teams):
    member = user("pat", team=teams[0])
    member.groups.add(teams[1])
    response = post(api_as(member), BODY)
    assert response.status_code == 400
    assert response.json()["team"] == [
        "team is required: name one of your teams (payments, search)"
    ]


def test_a_member_cannot_change_or_delete_another_teams_registration(teams):
    payments, search = teams
    registration, _ = register("finder", team=search)
    client = api_as(user("pat", team=payments))
    url = f"/api/registrations/{registration.pk}/"
    patch = client.patch(url, json.dumps({"enabled": False}), content_type="application/json")
    assert patch.status_code == 404
    assert client.delete(url).status_code == 404
    registration.refresh_from_db()
    assert registration.enabled


def test_a_member_cannot_move_a_registration_out_of_their_teams(teams):
    payments, search = teams
    registration, _ = register("checkout", team=payments)
    client = api_as(user("pat", team=payments))
    response = client.patch(
        f"/api/registrations/{registration.pk}/",
        json.dumps({"team": "search", "enabled": False}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "you are not a member of search" in response.json()["team"][0]
    registration.refresh_from_db()
    assert (registration.team, registration.enabled) == (payments, True)


def test_staff_change_any_teams_registration(teams):
    registration, _ = register("finder", team=teams[1])
    response = api_as(user("ops", staff=True)).patch(
        f"/api/registrations/{registration.pk}/",
        json.dumps({"team": "payments"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    registration.refresh_from_db()
    assert registration.team == teams[0]


# --- the admin ---------------------------------------------------------------------------

CHANGELIST = "/admin/registrations/registration/"


def test_a_team_member_signs_in_to_the_admin_without_the_staff_flag(client, teams):
    user("pat", team=teams[0])
    response = client.post("/admin/login/", {"username": "pat", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(CHANGELIST).status_code == 200


def test_an_account_in_no_team_is_told_why_it_cannot_sign_in_to_the_admin(client):
    user("loner")
    response = client.post("/admin/login/", {"username": "loner", "password": PASSWORD})
    assert response.status_code == 200
    assert "belongs to no team" in response.content.decode()


def test_the_admin_lists_only_the_members_teams_with_links_to_history(client, teams):
    payments, search = teams
    register("checkout", team=payments)
    register("finder", team=search)
    client.force_login(user("pat", team=payments))
    html = client.get(CHANGELIST).content.decode()
    assert "checkout" in html and "finder" not in html
    assert 'href="/applications/checkout/"' in html


def test_another_teams_registration_cannot_be_opened_or_changed_in_the_admin(client, teams):
    payments, search = teams
    registration, _ = register("finder", team=search)
    client.force_login(user("pat", team=payments))
    url = f"{CHANGELIST}{registration.pk}/change/"
    assert client.get(url).status_code == 302  # "doesn't exist. Perhaps it was deleted?"
    response = client.post(url, {"codedeploy_application_name": "stolen", "team": payments.pk})
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.codedeploy_application_name == "finder"


def test_the_team_menu_offers_only_the_members_teams(client, teams):
    client.force_login(user("pat", team=teams[0]))
    html = client.get(f"{CHANGELIST}add/").content.decode()
    assert ">payments</option>" in html
    assert ">search</option>" not in html


def test_the_change_page_links_to_the_applications_history(client, teams):
    registration, _ = register("checkout", team=teams[0])
    client.force_login(user("pat", team=teams[0]))
    html = client.get(f"{CHANGELIST}{registration.pk}/change/").content.decode()
    assert "/applications/checkout/" in html
