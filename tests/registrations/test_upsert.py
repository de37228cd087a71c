"""PUT /api/registrations/by-name/<application>: create or replace, and ETags with If-Match so
two tools editing at once never overwrite each other."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels import pagerduty
from channels.pagerduty import PagerDutySetup
from channels.slack import SlackSetup
from registrations.models import NotificationSetup, Registration
from registrations.sources import Source
from tests.support.history import user

pytestmark = pytest.mark.django_db

KEY = "a" * 32
TOKEN = "xoxb-1234-5678-abcdefghijkl"
URL = "/api/registrations/by-name/storefront"
BODY = {
    "team": "web",
    "notifications": [
        {"slack_notification": {"bot_token": TOKEN, "channel": "#deploys"}},
        {"pagerduty_notification": {"routing_key": KEY, "events": ["failed"]}},
    ],
}


def client_for(account) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=account).key}")
    return client


@pytest.fixture
def web():
    return Group.objects.create(name="web")


@pytest.fixture
def api(web):
    return client_for(User.objects.create_user("automation", is_staff=True))


def put(client, body, url=URL, **headers):
    return client.put(url, json.dumps(body), content_type="application/json", headers=headers)


def test_a_put_creates_then_replaces_and_says_which(api):
    created = put(api, BODY)
    assert created.status_code == 201, created.content
    assert created.json()["codedeploy_application_name"] == "storefront"
    assert created["ETag"].startswith('"')
    replaced = put(api, {**BODY, "enabled": False})
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["enabled"] is False
    assert Registration.objects.get().enabled is False
    assert replaced["ETag"] != created["ETag"]


def test_get_by_name_reads_the_registration_with_its_etag(api):
    written = put(api, BODY)
    read = api.get(URL)
    assert read.status_code == 200
    assert read.json()["warnings"] == []  # warnings are about a save
    assert {**read.json(), "warnings": None} == {**written.json(), "warnings": None}
    assert read["ETag"] == written["ETag"]
    assert TOKEN not in read.content.decode() and KEY not in read.content.decode()
    missing = api.get("/api/registrations/by-name/nothing-here")
    assert missing.status_code == 404
    assert "nothing-here" in missing.json()["detail"]


def test_a_body_naming_another_application_is_refused_by_field(api):
    response = put(api, {**BODY, "codedeploy_application_name": "checkout"})
    assert response.status_code == 400
    (message,) = response.json()["codedeploy_application_name"]
    assert "'checkout'" in message and "'storefront'" in message
    assert not Registration.objects.exists()


def test_the_source_is_chosen_by_the_query(api):
    Source.objects.create(name="prod-eu", region="eu-west-1")
    response = put(api, BODY, url=f"{URL}?source=prod-eu")
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "prod-eu"
    assert api.get(URL).status_code == 404  # not in the default source
    assert api.get(f"{URL}?source=prod-eu").status_code == 200
    unknown = api.get(f"{URL}?source=nowhere")
    assert unknown.status_code == 404 and "'nowhere'" in unknown.json()["detail"]
    clash = put(api, {**BODY, "source": "default"}, url=f"{URL}?source=prod-eu")
    assert clash.status_code == 400 and "source" in clash.json()


def test_a_round_tripped_body_without_secrets_keeps_the_stored_secrets(api):
    put(api, BODY)
    ids = set(NotificationSetup.objects.values_list("pk", flat=True))
    read = api.get(URL).json()
    # What a tool does: read, change a field, write the whole thing back (no secrets in it).
    read["notifications"][1]["pagerduty_notification"]["events"] = ["failed", "stopped"]
    assert put(api, read).status_code == 200
    # Without ids too: matched by kind and non-secret fields (the Slack channel).
    for item in read["notifications"]:
        next(iter(item.values())).pop("id")
    response = put(api, read)
    assert response.status_code == 200, response.content
    assert set(NotificationSetup.objects.values_list("pk", flat=True)) == ids
    assert SlackSetup.objects.get().bot_token == TOKEN
    stored = PagerDutySetup.objects.get()
    assert (stored.routing_key, stored.events) == (KEY, ["failed", "stopped"])


def test_the_body_is_the_whole_truth(api):
    put(api, {**BODY, "enabled": False, "deployment_groups": "blue"})
    response = put(
        api,
        {"notifications": [{"pagerduty_notification": {}}]},  # no Slack; defaults elsewhere
    )
    assert response.status_code == 200, response.content
    registration = Registration.objects.get()
    assert (registration.enabled, registration.deployment_groups) == (True, "")
    assert registration.team.name == "web"  # the team stays
    (setup,) = registration.setups.all()
    setup = setup.typed()
    assert (setup.kind, setup.routing_key) == ("pagerduty", KEY)
    assert setup.events == list(pagerduty.DEFAULT_EVENTS) != ["failed"]


def test_a_new_setup_without_its_secret_is_refused_by_field(api):
    response = put(api, {"notifications": [{"pagerduty_notification": {}}]})
    assert response.status_code == 400
    assert "routing_key" in json.dumps(response.json()["notifications"])
    assert not Registration.objects.exists()


def test_a_stale_if_match_is_refused_and_changes_nothing(api):
    etag = put(api, BODY)["ETag"]
    assert put(api, {**BODY, "enabled": False}, **{"If-Match": etag}).status_code == 200
    stale = put(api, {**BODY, "deployment_groups": "green"}, **{"If-Match": etag})
    assert stale.status_code == 412
    assert "changed since it was read" in stale.json()["detail"]
    assert "GET it again" in stale.json()["detail"]
    assert Registration.objects.get().deployment_groups == ""


def test_two_tools_editing_at_once_never_overwrite_each_other(api, web):
    first = api
    second = client_for(user("pat", team=web))
    put(first, BODY)
    pk = Registration.objects.get().pk
    one, two = first.get(f"/api/registrations/{pk}/"), second.get(URL)
    assert one["ETag"] == two["ETag"]
    changed = first.patch(
        f"/api/registrations/{pk}/",
        json.dumps({"enabled": False}),
        content_type="application/json",
        headers={"If-Match": one["ETag"]},
    )
    assert changed.status_code == 200, changed.content
    assert changed["ETag"] != one["ETag"]
    lost = put(second, {**BODY, "deployment_groups": "blue"}, **{"If-Match": two["ETag"]})
    assert lost.status_code == 412
    registration = Registration.objects.get()
    assert (registration.enabled, registration.deployment_groups) == (False, "")
    # The second tool reads again and succeeds with the fresh ETag.
    fresh = second.get(URL)
    body = {**fresh.json(), "deployment_groups": "blue"}
    assert put(second, body, **{"If-Match": fresh["ETag"]}).status_code == 200
    registration.refresh_from_db()
    assert (registration.enabled, registration.deployment_groups) == (False, "blue")


def test_if_match_star_needs_it_to_exist_and_if_none_match_star_creates_only(api):
    missing = put(api, BODY, **{"If-Match": "*"})
    assert missing.status_code == 412 and "no such registration" in missing.json()["detail"]
    assert put(api, BODY, **{"If-None-Match": "*"}).status_code == 201
    again = put(api, BODY, **{"If-None-Match": "*"})
    assert again.status_code == 412 and "exists already" in again.json()["detail"]
    assert put(api, BODY, **{"If-Match": "*"}).status_code == 200


def test_delete_and_put_by_id_check_if_match(api):
    put(api, BODY)
    pk = Registration.objects.get().pk
    url = f"/api/registrations/{pk}/"
    etag = api.get(url)["ETag"]
    assert api.get(url)["ETag"] == etag  # stable while nothing changes
    stale = api.delete(url, headers={"If-Match": '"0123"'})
    assert stale.status_code == 412
    assert Registration.objects.exists()
    assert api.delete(url, headers={"If-Match": etag}).status_code == 204
    assert not Registration.objects.exists()


def test_a_post_answers_the_etag_a_get_then_reads(api):
    created = api.post(
        "/api/registrations/",
        json.dumps({"codedeploy_application_name": "storefront", **BODY}),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created["ETag"] == api.get(f"/api/registrations/{created.json()['id']}/")["ETag"]


def test_a_secret_change_alone_changes_the_etag(api):
    etag = put(api, BODY)["ETag"]
    setup = PagerDutySetup.objects.get()
    setup.routing_key = "b" * 32
    setup.save()
    assert api.get(URL)["ETag"] != etag


def test_a_member_cannot_replace_another_teams_registration(api, web):
    put(api, BODY)
    outsider = client_for(user("sam", team=Group.objects.create(name="search")))
    response = put(outsider, {"notifications": [{"pagerduty_notification": {"routing_key": KEY}}]})
    assert response.status_code == 403
    assert "another team" in response.json()["detail"]
    assert outsider.get(URL).status_code == 404  # others' registrations are not shown
    assert Registration.objects.get().setups.count() == 2
    moved = put(client_for(user("pat", team=web)), {**BODY, "team": "search"})
    assert moved.status_code == 403
    assert "not a member of search" in moved.json()["detail"]


def test_a_member_creates_in_their_own_team(web):
    member = client_for(user("pat", team=web))
    response = put(member, {"notifications": BODY["notifications"]})
    assert response.status_code == 201, response.content
    assert response.json()["team"] == "web"


@pytest.mark.django_db(transaction=True)
def test_two_writers_racing_with_one_etag_get_one_success_and_one_412(live_server):
    """Real concurrent requests. Run with DATABASE_URL=postgres://... this fails without the
    row lock the write takes before checking If-Match (both answer 200); SQLite serializes
    write transactions, so it holds there either way."""
    import threading

    import requests

    Group.objects.create(name="web")
    token = Token.objects.create(user=User.objects.create_user("ops", is_staff=True)).key
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    url = f"{live_server.url}{URL}"
    created = requests.put(url, json.dumps(BODY), headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    etag, start, answers = created.headers["ETag"], threading.Barrier(2), []

    def write(groups: str) -> None:
        body = json.dumps({**BODY, "deployment_groups": groups})
        start.wait()
        answer = requests.put(url, body, headers={**headers, "If-Match": etag}, timeout=30)
        answers.append((answer.status_code, groups))

    threads = [threading.Thread(target=write, args=(g,)) for g in ("blue", "green")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(code for code, _ in answers) == [200, 412]
    (winner,) = [groups for code, groups in answers if code == 200]
    assert Registration.objects.get().deployment_groups == winner


def test_a_write_by_id_to_a_deleted_registration_is_a_404_whatever_if_match_says(api):
    put(api, BODY)
    registration = Registration.objects.get()
    url = f"/api/registrations/{registration.pk}/"
    etag = api.get(url)["ETag"]
    assert api.delete(url, headers={"If-Match": etag}).status_code == 204
    for tag in (etag, "*", '"0123"'):
        assert api.delete(url, headers={"If-Match": tag}).status_code == 404
        patched = api.patch(url, {"enabled": False}, format="json", headers={"If-Match": tag})
        assert patched.status_code == 404


def test_a_refused_body_is_a_400_even_with_a_stale_if_match(api):
    put(api, BODY)
    pk = Registration.objects.get().pk
    stale = {"If-Match": '"0123"'}
    by_name = put(api, {**BODY, "enabled": "no"}, **stale)
    assert by_name.status_code == 400 and "enabled" in by_name.json()
    by_id = api.patch(f"/api/registrations/{pk}/", {"enabled": "no"}, format="json", headers=stale)
    assert by_id.status_code == 400 and "enabled" in by_id.json()
    assert put(api, BODY, **stale).status_code == 412  # a valid body meets the precondition


def test_a_setup_id_is_a_positive_number_named_in_the_error(api):
    body = {"notifications": [{"pagerduty_notification": {"id": 0, "routing_key": KEY}}]}
    response = put(api, body)
    assert response.status_code == 400
    (errors,) = response.json()["notifications"]
    assert "greater than or equal to 1" in errors["pagerduty_notification"]["id"][0]


def test_a_blank_team_or_source_is_refused_not_read_as_none(api):
    team = put(api, {**BODY, "team": ""})
    assert team.status_code == 400
    assert team.json()["team"] == [
        "team must not be blank: name a team (a group) you are in, or leave team out for your "
        "only team"
    ]
    source = api.post(
        "/api/registrations/",
        {**BODY, "codedeploy_application_name": "web", "source": ""},
        format="json",
    )
    assert source.status_code == 400 and "must not be blank" in source.json()["source"][0]
    assert not Registration.objects.exists()
