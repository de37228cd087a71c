"""Suggesting CodeDeploy application names in the admin and warning (never refusing) about a
name the source does not have; moto's CodeDeploy over HTTP answers ListApplications."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notifier.sources import boto3_session_for
from registrations.applications import codedeploy_applications
from registrations.models import Registration
from registrations.sources import Source, source_default
from tests.registrations.test_admin import ADD_URL, management_data
from tests.registrations.test_api import post
from tests.support.aws import FakeCodeDeploy

pytestmark = pytest.mark.django_db
REFRESH = "/admin/registrations/registration/applications/refresh/"


@pytest.fixture(autouse=True)
def fresh(aws):
    boto3_session_for.cache_clear()
    cache.clear()
    yield
    cache.clear()
    boto3_session_for.cache_clear()


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


@pytest.fixture
def api():
    user = User.objects.create_user("automation", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def applications(aws):
    deploy = FakeCodeDeploy(aws.endpoint)

    def create(*names: str) -> None:
        for name in names:
            deploy.client.create_application(applicationName=name)

    return create


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)


def add_form(html: str, name: str) -> dict:
    return {"codedeploy_application_name": name, "enabled": "on", **management_data(html)}


def test_the_sources_applications_are_listed_sorted_and_cached(applications):
    applications("storefront", "billing")
    found = codedeploy_applications(source=source_default())
    assert found.names == ("billing", "storefront") and not found.error
    applications("payments")
    assert codedeploy_applications(source=source_default()).names == ("billing", "storefront")


def test_the_list_holds_at_most_five_hundred_names(applications):
    applications(*(f"app-{n:03}" for n in range(520)))
    found = codedeploy_applications(source=source_default())
    assert len(found.names) == 500
    assert not found.complete
    assert found.knows("not-there") is None


def test_the_add_page_suggests_the_default_sources_applications(staff_client, applications):
    applications("storefront", "billing")
    html = staff_client.get(ADD_URL).content.decode()
    assert 'list="codedeploy-applications"' in html
    assert '<datalist id="codedeploy-applications">' in html
    assert '<option value="billing"><option value="storefront">' in html
    assert "Refresh the list" in html


def test_a_registration_of_another_source_suggests_that_sources_applications(
    staff_client, applications
):
    applications("storefront")  # in the default source's account, not in prod's
    prod = Source.objects.create(
        name="prod", credentials="role", role_arn="arn:aws:iam::210987654321:role/notifier"
    )
    registration = Registration.objects.create(codedeploy_application_name="shop", source=prod)
    page = staff_client.get(f"/admin/registrations/registration/{registration.pk}/change/")
    html = page.content.decode()
    assert "Suggestions: the 0 applications of source &#x27;prod&#x27;" in html
    assert '<option value="storefront">' not in html
    assert f"{REFRESH}{prod.pk}/?next=" in html


def test_refresh_reads_the_list_again_and_goes_back(staff_client, applications):
    applications("storefront")
    assert '<option value="payments">' not in staff_client.get(ADD_URL).content.decode()
    applications("payments")
    assert '<option value="payments">' not in staff_client.get(ADD_URL).content.decode()
    response = staff_client.get(f"{REFRESH}{source_default().pk}/?next={ADD_URL}")
    assert response.status_code == 302 and response["Location"] == ADD_URL
    assert '<option value="payments">' in staff_client.get(ADD_URL).content.decode()


def test_refresh_does_not_redirect_to_another_site(staff_client, applications):
    response = staff_client.get(f"{REFRESH}{source_default().pk}/?next=https://evil.example/")
    assert response["Location"] == "/admin/registrations/registration/"


def test_refresh_needs_a_signed_in_member(client):
    response = client.get(f"{REFRESH}{source_default().pk}/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_unknown_name_is_saved_with_a_warning(staff_client, applications):
    applications("storefront")
    html = staff_client.get(ADD_URL).content.decode()
    response = staff_client.post(ADD_URL, add_form(html, "not-yet"), follow=True)
    assert Registration.objects.filter(codedeploy_application_name="not-yet").exists()
    page = response.content.decode()
    assert "no CodeDeploy application &#x27;not-yet&#x27; in source &#x27;default&#x27;" in page
    assert "saved anyway: it may be created later" in page


def test_a_known_name_is_saved_without_a_warning(staff_client, applications):
    applications("storefront")
    html = staff_client.get(ADD_URL).content.decode()
    response = staff_client.post(ADD_URL, add_form(html, "storefront"), follow=True)
    assert Registration.objects.filter(codedeploy_application_name="storefront").exists()
    assert "saved anyway" not in response.content.decode()


def test_without_credentials_the_form_says_why_and_still_saves(staff_client, no_credentials):
    html = staff_client.get(ADD_URL).content.decode()
    assert "No suggestions: the applications of source &#x27;default&#x27; cannot be" in html
    assert "testing" not in html.split('name="codedeploy_application_name"')[1][:1500]
    response = staff_client.post(ADD_URL, add_form(html, "storefront"), follow=True)
    assert response.status_code == 200
    assert Registration.objects.filter(codedeploy_application_name="storefront").exists()
    assert "saved anyway" not in response.content.decode()


# --- the REST API: warnings in the answer, never a refusal ----------------------------------

ORIGINAL = {
    "codedeploy_application_name": "storefront",
    "notifications": [{"newrelic_notification": {"application_name": "storefront-web"}}],
}
NOT_FOUND = {
    "field": "codedeploy_application_name",
    "code": "application_not_found",
    "message": "no CodeDeploy application 'storefront' in source 'default'; saved anyway: "
    "it may be created later",
}


def test_the_api_saves_an_unknown_name_and_answers_a_warning(api, applications):
    applications("billing")
    response = post(api, ORIGINAL)
    assert response.status_code == 201, response.content
    assert response.json()["warnings"] == [NOT_FOUND]
    assert Registration.objects.filter(codedeploy_application_name="storefront").exists()


def test_the_api_answers_no_warnings_for_a_known_name(api, applications):
    applications("storefront")
    created = post(api, ORIGINAL).json()
    assert created["warnings"] == []
    changed = api.patch(
        f"/api/registrations/{created['id']}/", {"enabled": False}, format="json"
    ).json()
    assert changed["warnings"] == [] and changed["enabled"] is False


def test_an_update_to_an_unknown_name_answers_a_warning(api, applications):
    applications("billing")
    created = post(api, {**ORIGINAL, "codedeploy_application_name": "billing"}).json()
    assert created["warnings"] == []
    changed = api.patch(
        f"/api/registrations/{created['id']}/",
        {"codedeploy_application_name": "storefront"},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["warnings"] == [NOT_FOUND]


def test_a_put_by_name_of_an_unknown_name_answers_a_warning(api, applications):
    response = api.put("/api/registrations/by-name/storefront", ORIGINAL, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["warnings"] == [NOT_FOUND]


def test_the_api_answers_no_warnings_when_the_list_cannot_be_read(api, no_credentials):
    response = post(api, ORIGINAL)
    assert response.status_code == 201, response.content
    assert response.json()["warnings"] == []
