"""System checks for provider settings that enabled setups need (notifier/checks.py)."""

from __future__ import annotations

import html
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from channels.email import EmailSetup
from channels.newrelic import NERDGRAPH, NewRelicSetup
from channels.sns import SnsSetup
from channels.webhook import WebhookSetup
from registrations.models import Registration
from tests.support.history import user
from tests.support.processes import ROOT, ServiceProcess, service_env, wait_until
from tests.support.services import free_port

pytestmark = pytest.mark.django_db


def check_output() -> str:
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.fixture
def registration() -> Registration:
    return Registration.objects.create(codedeploy_application_name="storefront")


def new_relic_setups(registration, count: int, **fields) -> None:
    for n in range(count):
        NewRelicSetup.objects.create(
            registration=registration, application_name=f"web{n}", **fields
        )


def test_it_names_the_missing_new_relic_key_and_how_many_setups_need_it(settings, registration):
    settings.NEW_RELIC_API_KEY = ""
    new_relic_setups(registration, 2)
    NewRelicSetup.objects.create(
        registration=registration, api=NERDGRAPH, entity_guid="MXxBUE18QVBQTElDQVRJT058MQ"
    )
    output = check_output()
    assert "notifier.W001" in output
    assert (
        "NEW_RELIC_API_KEY is not set, and 3 enabled New Relic deployment marker setups" in output
    )
    assert "Set NEW_RELIC_API_KEY to a New Relic User API key" in output


def test_without_setups_of_the_kind_it_warns_about_nothing(settings, registration):
    settings.NEW_RELIC_API_KEY = ""
    settings.EMAIL_URL = ""
    WebhookSetup.objects.create(registration=registration, url="https://hooks.example.com/x")
    assert "System check identified no issues" in check_output()


def test_a_disabled_setup_or_a_set_key_needs_no_warning(settings, registration):
    settings.NEW_RELIC_API_KEY = ""
    new_relic_setups(registration, 1, enabled=False)
    assert "NEW_RELIC_API_KEY" not in check_output()
    NewRelicSetup.objects.update(enabled=True)
    settings.NEW_RELIC_API_KEY = "NRAK-SET"
    assert "NEW_RELIC_API_KEY" not in check_output()


def test_email_setups_need_email_url(settings, registration):
    settings.EMAIL_URL = ""
    EmailSetup.objects.create(registration=registration, recipients="ops@example.com")
    output = check_output()
    assert "notifier.W002" in output and "EMAIL_URL is not set, and 1 enabled" in output


def test_sns_setups_need_an_aws_region(monkeypatch, tmp_path, registration):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    SnsSetup.objects.create(registration=registration, topic="arn:aws:sns:eu-west-1:1:t")
    output = check_output()
    assert "notifier.W003" in output and "AWS_DEFAULT_REGION is not set" in output
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert "AWS_DEFAULT_REGION" not in check_output()


def test_the_status_page_lists_the_problems(client, settings, registration):
    settings.NEW_RELIC_API_KEY = ""
    client.force_login(user("alice", team=Group.objects.create(name="t")))
    assert "NEW_RELIC_API_KEY" not in client.get("/status/").content.decode()
    new_relic_setups(registration, 1)
    page = html.unescape(client.get("/status/").content.decode())
    assert "configuration is missing settings" in page
    assert "NEW_RELIC_API_KEY is not set, and 1 enabled New Relic deployment marker setup" in page


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=False)
def test_check_and_migrate_work_on_a_fresh_database_without_tables(tmp_path):
    env = service_env(DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite3'}", NEW_RELIC_API_KEY="")
    checked = manage("check", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "no issues" in checked.stdout
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr


@pytest.mark.django_db(transaction=True)
def test_the_service_shows_the_warning_when_it_starts(tmp_path, registration):
    new_relic_setups(registration, 1)
    service = ServiceProcess(
        "run_service",
        ["run_service", "--port", str(free_port())],
        service_env(NEW_RELIC_API_KEY=""),
        tmp_path,
    )
    try:
        wait_until(
            lambda: "NEW_RELIC_API_KEY is not set" in service.output(),
            timeout=30,
            what="the warning at start",
        )
    finally:
        service.stop()
