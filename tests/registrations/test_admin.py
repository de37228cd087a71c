from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from registrations.models import Registration

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/registrations/registration/add/"


@pytest.fixture
def staff_client(client):
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def management_data(html: str) -> dict[str, str]:
    """Every inline formset's management form, empty, as the browser would post it."""
    data = {}
    for prefix in re.findall(r'name="([\w-]+)-TOTAL_FORMS"', html):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


def newrelic_prefix(html: str) -> str:
    match = re.search(r'name="([\w-]+)-__prefix__-application_name"', html)
    assert match, "the New Relic inline is on the page"
    return match.group(1)


def test_the_add_page_shows_typed_fields_with_help_and_event_checkboxes(staff_client):
    html = staff_client.get(ADD_URL).content.decode()
    prefix = newrelic_prefix(html)
    assert "Exactly as New Relic APM shows it" in html
    assert f'type="checkbox" name="{prefix}-__prefix__-events" value="succeeded"' in html
    assert "Exactly as it appears in the CodeDeploy console" in html
    assert "<textarea" not in html.split("New Relic")[1].split("</fieldset>")[0]


def test_a_registration_with_a_setup_is_saved_from_the_form(staff_client):
    html = staff_client.get(ADD_URL).content.decode()
    prefix = newrelic_prefix(html)
    data = {
        "codedeploy_application_name": "storefront",
        "enabled": "on",
        "deployment_groups": "",
        **management_data(html),
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-0-application_name": "storefront-web",
        f"{prefix}-0-events": ["succeeded", "failed"],
        f"{prefix}-0-enabled": "on",
    }
    response = staff_client.post(ADD_URL, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    setup = Registration.objects.get(codedeploy_application_name="storefront").setups.get()
    assert setup.kind == "newrelic"
    assert setup.events == ["succeeded", "failed"]
    assert setup.typed().application_name == "storefront-web"


def test_a_setup_without_events_is_refused_with_the_field_named(staff_client):
    html = staff_client.get(ADD_URL).content.decode()
    prefix = newrelic_prefix(html)
    data = {
        "codedeploy_application_name": "storefront",
        **management_data(html),
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-0-application_name": "storefront-web",
    }
    response = staff_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not Registration.objects.exists()


def test_the_list_filters_and_searches(staff_client):
    Registration.objects.create(codedeploy_application_name="storefront")
    Registration.objects.create(codedeploy_application_name="payments")
    html = staff_client.get("/admin/registrations/registration/?q=store").content.decode()
    assert "storefront" in html and "payments" not in html
    html = staff_client.get("/admin/registrations/registration/").content.decode()
    assert 'id="changelist-filter"' in html
