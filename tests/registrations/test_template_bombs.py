"""A template that would stall or flood a render is refused when a setup is saved, through
the admin and through the API, with the reason under the template's field."""

from __future__ import annotations

import re

import pytest

from channels.slack import SlackSetup
from registrations.models import NotificationSetup, Registration
from tests.channels.template_bombs import CENTER, FLOOD, HIDDEN, NESTED_LOOPS
from tests.registrations.test_setup_secrets_and_templates import (  # noqa: F401 (fixtures)
    HOOK,
    api,
    change_form,
    create,
    public_dns,
    staff,
)

pytestmark = pytest.mark.django_db
BOMBS = {
    "nested loops": (NESTED_LOOPS, "line 1: {% for %} loops only over a list"),
    "center": (CENTER, "line 1: the filter center is not allowed in a message template"),
    "hidden": (HIDDEN, "line 1: {% for %} loops only over a list"),
    "flood": (FLOOD, "rendered more than 64 KiB for the started sample; simplify it"),
}


@pytest.mark.parametrize("bomb", BOMBS, ids=list(BOMBS))
def test_the_api_refuses_a_template_bomb_under_its_field(api, bomb):  # noqa: F811
    text, reason = BOMBS[bomb]
    response = create(api, {"slack_notification": {"webhook_url": HOOK, "body_template": text}})
    assert response.status_code == 400, response.content
    errors = response.json()["notifications"][0]["slack_notification"]
    assert list(errors) == ["body_template"]
    assert errors["body_template"][0].startswith(reason)
    assert NotificationSetup.objects.count() == 0


@pytest.mark.parametrize("bomb", BOMBS, ids=list(BOMBS))
def test_the_admin_refuses_a_template_bomb_beside_its_field(client, bomb):
    text, reason = BOMBS[bomb]
    registration = Registration.objects.create(codedeploy_application_name="storefront")
    slack = SlackSetup.objects.create(registration=registration, webhook_url=HOOK)
    url, html, data = change_form(staff(client), registration)
    prefix = re.search(r'name="([\w-]+)-0-channel"', html).group(1)
    data.update(
        {
            f"{prefix}-0-notificationsetup_ptr": str(slack.pk),
            f"{prefix}-0-registration": str(registration.pk),
            f"{prefix}-0-webhook_url": "",
            f"{prefix}-0-bot_token": "",
            f"{prefix}-0-channel": "",
            f"{prefix}-0-events": ["failed"],
            f"{prefix}-0-enabled": "on",
            f"{prefix}-0-body_template": text,
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200  # the form again, with the error
    page = response.content.decode()
    row = re.search(r'<div class="form-row errors field-body_template">(.*?)</div>', page, re.S)
    assert row, "the error is shown in the body template's row"
    errors = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', row.group(1), re.S).group(1)
    assert reason.replace('"', "&quot;") in errors.replace("&#x27;", "'")
    slack.refresh_from_db()
    assert slack.body_template == "" and slack.events != ["failed"]
