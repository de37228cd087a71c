"""Registrations as code: `manage.py registrations export|apply` and POST
/api/registrations/apply. Secrets travel as ${VAR} references in files, never as values."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO

import pytest
import yaml
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels.pagerduty import PagerDutySetup
from channels.slack import SlackSetup
from registrations.models import Registration
from registrations.sources import Source
from tests.support.history import user
from tests.support.processes import ROOT, service_env

pytestmark = pytest.mark.django_db

KEY = "a" * 32
TOKEN = "xoxb-1234-5678-abcdefghijkl"
ENV = {"SLACK_STOREFRONT_BOT_TOKEN": TOKEN, "PAGERDUTY_CHECKOUT_ROUTING_KEY": KEY}


def entry(name: str, *notifications, **fields) -> dict:
    return {"codedeploy_application_name": name, "notifications": list(notifications), **fields}


SLACK = {"slack_notification": {"bot_token": "${SLACK_STOREFRONT_BOT_TOKEN}", "channel": "#web"}}
PAGERDUTY = {"pagerduty_notification": {"routing_key": "${PAGERDUTY_CHECKOUT_ROUTING_KEY}"}}
DOCUMENT = {
    "registrations": [
        entry("storefront", SLACK, team="web"),
        entry("checkout", PAGERDUTY, team="payments", deployment_groups="blue"),
    ]
}


@pytest.fixture
def teams():
    return Group.objects.create(name="web"), Group.objects.create(name="payments")


@pytest.fixture
def env(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def write(tmp_path, document, name="registrations.yaml"):
    path = tmp_path / name
    text = (
        document if isinstance(document, str) else yaml.safe_dump(json.loads(json.dumps(document)))
    )
    path.write_text(text)
    return str(path)


def run(*args) -> str:
    out = StringIO()
    call_command("registrations", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_apply_adds_then_applying_again_changes_nothing(tmp_path, teams, env):
    path = write(tmp_path, DOCUMENT)
    first = run("apply", path)
    assert "+ default/storefront (added)" in first and "+ default/checkout (added)" in first
    assert SlackSetup.objects.get().bot_token == TOKEN
    assert PagerDutySetup.objects.get().routing_key == KEY
    stamps = list(Registration.objects.values_list("updated_at", flat=True))
    second = run("apply", path)
    assert "no changes (2 unchanged)" in second
    assert list(Registration.objects.values_list("updated_at", flat=True)) == stamps


def test_export_writes_references_never_values_and_round_trips(tmp_path, teams, env):
    run("apply", write(tmp_path, DOCUMENT))
    out, err = StringIO(), StringIO()
    call_command("registrations", "export", stdout=out, stderr=err)
    text = out.getvalue()
    assert TOKEN not in text and KEY not in text
    assert "${SLACK_STOREFRONT_BOT_TOKEN}" in text and "${PAGERDUTY_CHECKOUT_ROUTING_KEY}" in text
    assert "SLACK_STOREFRONT_BOT_TOKEN" in err.getvalue()
    exported = yaml.safe_load(text)["registrations"]
    assert [(r["codedeploy_application_name"], r["source"], r["team"]) for r in exported] == [
        ("checkout", "default", "payments"),
        ("storefront", "default", "web"),
    ]
    assert "no changes (2 unchanged)" in run("apply", write(tmp_path, text, "exported.yaml"))
    only = tmp_path / "web.yaml"
    run("export", "--team", "web", "-o", str(only))
    assert [
        r["codedeploy_application_name"] for r in yaml.safe_load(only.read_text())["registrations"]
    ] == ["storefront"]


def test_export_names_each_secret_apart_and_by_source(tmp_path, teams, env):
    Source.objects.create(name="prod-eu", region="eu-west-1")
    second = {"slack_notification": {"bot_token": "${SLACK_STOREFRONT_BOT_TOKEN}", "channel": "#b"}}
    document = {
        "registrations": [
            entry("storefront", SLACK, second, team="web"),
            entry("storefront", SLACK, team="web", source="prod-eu"),
        ]
    }
    run("apply", write(tmp_path, document))
    text = run("export")
    assert "${SLACK_STOREFRONT_BOT_TOKEN}" in text
    assert "${SLACK_STOREFRONT_BOT_TOKEN_2}" in text
    assert "${PROD_EU_SLACK_STOREFRONT_BOT_TOKEN}" in text
    assert run("export", "--source", "prod-eu").count("codedeploy_application_name") == 1


def test_changes_are_shown_field_by_field_and_secrets_only_as_changed(
    tmp_path, teams, env, monkeypatch
):
    run("apply", write(tmp_path, DOCUMENT))
    monkeypatch.setenv("PAGERDUTY_CHECKOUT_ROUTING_KEY", "b" * 32)
    changed = {
        "registrations": [
            DOCUMENT["registrations"][0],
            entry("checkout", PAGERDUTY, team="payments", enabled=False),
            entry("search", {"pagerduty_notification": {"routing_key": "c" * 32}}, team="web"),
        ]
    }
    out = run("apply", write(tmp_path, changed), "--dry-run")
    assert "~ default/checkout (changed)" in out
    assert "enabled: True -> False" in out
    assert "deployment_groups: 'blue' -> ''" in out
    assert "notifications[0].pagerduty_notification.routing_key: (changed)" in out
    assert "+ default/search (added)" in out
    assert "1 added, 1 changed, 0 removed, 1 unchanged (dry run: nothing applied)" in out
    assert "b" * 32 not in out and KEY not in out
    assert PagerDutySetup.objects.get().routing_key == KEY  # the dry run applied nothing
    assert not Registration.objects.filter(codedeploy_application_name="search").exists()
    run("apply", write(tmp_path, changed))
    assert (
        PagerDutySetup.objects.get(registration__codedeploy_application_name="checkout").routing_key
        == "b" * 32
    )
    assert not Registration.objects.get(codedeploy_application_name="checkout").enabled


def test_a_missing_variable_is_named_and_nothing_is_applied(tmp_path, teams, monkeypatch):
    monkeypatch.setenv("SLACK_STOREFRONT_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("PAGERDUTY_CHECKOUT_ROUTING_KEY", raising=False)
    with pytest.raises(CommandError) as refused:
        run("apply", write(tmp_path, DOCUMENT))
    message = str(refused.value)
    assert "nothing was applied" in message
    assert "registrations[1] (checkout)" in message
    assert "notifications[0].pagerduty_notification.routing_key" in message
    assert "PAGERDUTY_CHECKOUT_ROUTING_KEY is not set" in message
    assert not Registration.objects.exists()


def test_an_error_in_the_third_registration_leaves_the_first_two_unapplied(tmp_path, teams, env):
    bad = {"pagerduty_notification": {"routing_key": "too-short"}}
    document = {"registrations": [*DOCUMENT["registrations"], entry("search", bad, team="web")]}
    with pytest.raises(CommandError) as refused:
        run("apply", write(tmp_path, document))
    assert "default/search: notifications[0].pagerduty_notification.routing_key" in str(
        refused.value
    )
    assert "32 letters and digits" in str(refused.value)
    assert not Registration.objects.exists()


def test_prune_removes_only_registrations_in_scope(tmp_path, teams, env):
    web, payments = teams
    run("apply", write(tmp_path, DOCUMENT))
    extra = {"pagerduty_notification": {"routing_key": KEY}}
    run("apply", write(tmp_path, {"registrations": [entry("search", extra, team="web")]}))
    only_storefront = {"registrations": [DOCUMENT["registrations"][0]]}
    out = run("apply", write(tmp_path, only_storefront), "--prune", "--team", "web")
    assert "- default/search (removed)" in out and "checkout" not in out
    assert set(Registration.objects.values_list("codedeploy_application_name", flat=True)) == {
        "storefront",
        "checkout",
    }
    without = run("apply", write(tmp_path, only_storefront))
    assert "no changes" in without  # without --prune nothing is removed


def test_a_member_cannot_apply_another_teams_registrations(tmp_path, teams, env):
    web, _payments = teams
    user("pat", team=web)
    with pytest.raises(CommandError) as refused:
        run("apply", write(tmp_path, DOCUMENT), "--as-user", "pat")
    assert "default/checkout: team" in str(refused.value)
    assert "payments" in str(refused.value)
    assert not Registration.objects.exists()  # refused whole: storefront was not applied
    with pytest.raises(CommandError, match="outside team web"):
        run("apply", write(tmp_path, DOCUMENT), "--team", "web")


def test_every_kind_round_trips_with_no_changes(tmp_path, teams, monkeypatch, settings):
    settings.NOTIFIER_SES_FROM_ALLOWED = ["ci@example.com"]
    settings.NOTIFIER_SNS_TOPIC_ALLOWED = ["arn:aws:sns:eu-west-1:123456789012:*"]
    monkeypatch.setenv("KEY", KEY)
    notifications = [
        {"newrelic_notification": {"application_name": "web", "events": ["started"]}},
        {"email_notification": {"recipients": "a@example.com, b@example.com"}},
        {"ses_notification": {"from_address": "ci@example.com", "recipients": "a@example.com"}},
        {"sns_notification": {"topic": "arn:aws:sns:eu-west-1:123456789012:deploys"}},
        {"slack_notification": {"bot_token": TOKEN, "channel": "#web", "body_template": "x"}},
        {"pagerduty_notification": {"routing_key": "${KEY}", "deployment_groups": "blue"}},
    ]
    document = {"registrations": [entry("storefront", *notifications, team="web")]}
    assert "1 added" in run("apply", write(tmp_path, document))
    assert "no changes (1 unchanged)" in run("apply", write(tmp_path, document))
    monkeypatch.setenv("SLACK_STOREFRONT_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("PAGERDUTY_STOREFRONT_ROUTING_KEY", KEY)
    exported = write(tmp_path, run("export"), "exported.yaml")
    assert "no changes (1 unchanged)" in run("apply", exported)


def test_a_wrong_source_or_name_is_refused_by_field(tmp_path, env):
    document = {
        "registrations": [
            entry("storefront", PAGERDUTY, source="nowhere"),
            {"codedeploy_application_name": ["x"], "notifications": []},
        ]
    }
    with pytest.raises(CommandError) as refused:
        run("apply", write(tmp_path, document))
    assert "registrations[0]: source: 'nowhere' does not exist" in str(refused.value)
    assert "registrations[1]: codedeploy_application_name" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("base: &b {enabled: true}\nregistrations: [*b]\n", "anchors and aliases"),
        ("registrations: [" * 100 + "]" * 100, "nests deeper"),
        ("registrations: [\n", "not valid YAML"),
        ("- just a list\n", 'a "registrations:" list'),
        ("registrations: []\n!!python/object:os.system {}\n", "not valid YAML"),
    ],
)
def test_a_bad_document_is_refused_in_words(tmp_path, text, words):
    with pytest.raises(CommandError, match=words):
        run("apply", write(tmp_path, text))


def test_a_document_over_the_size_limit_is_refused(tmp_path, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    with pytest.raises(CommandError, match="NOTIFIER_MAX_REQUEST_BYTES"):
        run("apply", write(tmp_path, "registrations: []\n" + "#" * 2000))


# --- POST /api/registrations/apply -------------------------------------------------------


def client_for(account) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=account).key}")
    return client


def with_values(document: dict) -> dict:
    return json.loads(
        json.dumps(document)
        .replace("${SLACK_STOREFRONT_BOT_TOKEN}", TOKEN)
        .replace("${PAGERDUTY_CHECKOUT_ROUTING_KEY}", KEY)
    )


def test_the_api_applies_json_and_yaml_and_answers_the_diff(teams):
    api = client_for(User.objects.create_user("ops", is_staff=True))
    body = with_values(DOCUMENT)
    dry = api.post(
        "/api/registrations/apply?dry_run=true",
        json.dumps(body),
        content_type="application/json",
    )
    assert dry.status_code == 200, dry.content
    assert dry.json() == {
        "added": ["default/storefront", "default/checkout"],
        "changed": [],
        "removed": [],
        "unchanged": 0,
        "applied": False,
    }
    assert not Registration.objects.exists()
    applied = api.post("/api/registrations/apply", yaml.safe_dump(body), content_type="text/yaml")
    assert applied.status_code == 200, applied.content
    assert applied.json()["applied"] is True
    assert Registration.objects.count() == 2
    body["registrations"][1]["enabled"] = False
    again = api.post(
        "/api/registrations/apply", yaml.safe_dump(body), content_type="application/yaml"
    )
    assert again.json()["changed"] == [
        {
            "registration": "default/checkout",
            "fields": {
                "enabled": {"from": True, "to": False},
            },
        }
    ]
    assert again.json()["unchanged"] == 1


def test_the_api_refuses_references_other_types_and_bad_flags(teams):
    api = client_for(User.objects.create_user("ops", is_staff=True))
    refs = api.post(
        "/api/registrations/apply", json.dumps(DOCUMENT), content_type="application/json"
    )
    assert refs.status_code == 400
    assert "${SLACK_STOREFRONT_BOT_TOKEN} is a reference" in json.dumps(refs.json())
    plain = api.post("/api/registrations/apply", "registrations: []", content_type="text/plain")
    assert plain.status_code == 415 and "application/yaml" in plain.json()["detail"]
    flag = api.post(
        "/api/registrations/apply?prune=maybe", "registrations: []", content_type="text/yaml"
    )
    assert flag.status_code == 400 and "prune" in flag.json()
    alias = api.post(
        "/api/registrations/apply", "a: &x [1]\nregistrations: *x\n", content_type="text/yaml"
    )
    assert alias.status_code == 400 and "aliases" in json.dumps(alias.json())
    assert not Registration.objects.exists()


def test_the_api_keeps_a_member_to_their_teams_and_prunes_only_theirs(teams):
    web, payments = teams
    staff = client_for(User.objects.create_user("ops", is_staff=True))
    staff.post(
        "/api/registrations/apply",
        json.dumps(with_values(DOCUMENT)),
        content_type="application/json",
    )
    member = client_for(user("pat", team=web))
    refused = member.post(
        "/api/registrations/apply",
        json.dumps(with_values(DOCUMENT)),
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert "default/checkout: team" in json.dumps(refused.json())
    pruned = member.post(
        "/api/registrations/apply?prune=true",
        json.dumps({"registrations": []}),
        content_type="application/json",
    )
    assert pruned.status_code == 200, pruned.content
    assert pruned.json()["removed"] == ["default/storefront"]
    assert list(Registration.objects.values_list("codedeploy_application_name", flat=True)) == [
        "checkout"
    ]


def test_the_api_refuses_a_yaml_body_over_the_size_limit(teams, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    api = client_for(User.objects.create_user("ops", is_staff=True))
    response = api.post(
        "/api/registrations/apply", "registrations: []\n" + "#" * 5000, content_type="text/yaml"
    )
    assert response.status_code == 413


# --- one real run of the command --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_manage_py_registrations_apply_runs_end_to_end(tmp_path):
    Group.objects.create(name="web"), Group.objects.create(name="payments")
    path = write(tmp_path, DOCUMENT)
    env = service_env(**ENV)
    command = [sys.executable, "manage.py", "registrations", "apply", path]
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "2 added, 0 changed, 0 removed, 0 unchanged" in first.stdout
    assert SlackSetup.objects.get().bot_token == TOKEN
    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "no changes (2 unchanged)" in second.stdout
    del env["PAGERDUTY_CHECKOUT_ROUTING_KEY"]
    failed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0
    assert "PAGERDUTY_CHECKOUT_ROUTING_KEY is not set" in failed.stderr


def test_the_api_takes_its_flags_as_true_or_false_and_names_an_unknown_team(teams):
    api = client_for(User.objects.create_user("ops", is_staff=True))
    for flag in ("dry_run=1", "prune=yes", "dry_run=True"):
        refused = api.post(
            f"/api/registrations/apply?{flag}", "registrations: []", content_type="text/yaml"
        )
        name = flag.split("=")[0]
        assert refused.status_code == 400 and "true or false" in refused.json()[name][0]
    team = api.post(
        "/api/registrations/apply?team=nobody", "registrations: []", content_type="text/yaml"
    )
    assert team.status_code == 400
    assert team.json()["team"] == [
        "team 'nobody' does not exist: name a team (a group), or leave team out"
    ]
    assert (
        api.post(
            "/api/registrations/apply?dry_run=true", "registrations: []", content_type="text/yaml"
        ).json()["applied"]
        is False
    )


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("registrations: {}\n", "registrations must be a list"),
        ("registrations:\n", "registrations must be a list"),
        (
            "registrations:\n- codedeploy_application_name: web\n  source: ''\n"
            "  notifications: []\n",
            "registrations[0]: source: give a source's name",
        ),
    ],
)
def test_the_api_refuses_what_the_document_schema_refuses(teams, document, words):
    api = client_for(User.objects.create_user("ops", is_staff=True))
    refused = api.post("/api/registrations/apply", document, content_type="text/yaml")
    assert refused.status_code == 400
    assert words in json.dumps(refused.json())
