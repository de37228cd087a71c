"""API tokens: made on /tokens/ (shown once), used on the API, last use, revoked; who sees what."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registrations.tokens import MAX_ACTIVE_PER_USER, ApiToken, token_create
from tests.support.history import user

pytestmark = pytest.mark.django_db

TOKEN_ON_PAGE = re.compile(r'id="new-token" readonly value="(cdn_[A-Za-z0-9_-]{43})"')


def signed_in(account) -> Client:
    client = Client()
    client.force_login(account)
    return client


def make_on_page(client: Client, name: str) -> str:
    response = client.post("/tokens/", {"name": name})
    assert response.status_code == 200, response.content
    (secret,) = TOKEN_ON_PAGE.findall(response.content.decode())
    return secret


def api_status(base: str, secret: str) -> int:
    headers = {"Authorization": f"Token {secret}"}
    return requests.get(f"{base}/api/registrations/", headers=headers, timeout=10).status_code


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored():
    client = signed_in(user("alice"))
    response = client.post("/tokens/", {"name": "CI"})
    assert "no-store" in response["Cache-Control"]
    (secret,) = TOKEN_ON_PAGE.findall(response.content.decode())
    token = ApiToken.objects.get(name="CI")
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(list(ApiToken.objects.values_list()))
    listing = client.get("/tokens/").content.decode()
    assert secret not in listing
    assert "CI" in listing and f"{secret[:8]}…" in listing


@pytest.mark.django_db(transaction=True)
def test_a_token_works_over_http_records_its_use_and_gets_401_once_revoked(live_server):
    client = signed_in(user("alice"))
    secret = make_on_page(client, "deploy scripts")
    assert ApiToken.objects.get().last_used_at is None
    assert api_status(live_server.url, secret) == 200
    assert ApiToken.objects.get().last_used_at is not None
    token = ApiToken.objects.get()
    confirm = client.get(f"/tokens/{token.pk}/revoke/")
    assert "Revoke the token “deploy scripts”?" in confirm.content.decode()
    assert api_status(live_server.url, secret) == 200  # asking is not revoking
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    response = requests.get(
        f"{live_server.url}/api/registrations/",
        headers={"Authorization": f"Token {secret}"},
        timeout=10,
    )
    assert response.status_code == 401
    assert "make a new one at /tokens/" in response.json()["detail"]


def test_last_use_is_written_at_most_once_a_minute():
    token, secret = token_create(user=user("alice"), name="CI")
    api = Client(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/registrations/").status_code == 200
    first = ApiToken.objects.get().last_used_at
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/registrations/").status_code == 200
    assert not [q for q in queries if q["sql"].startswith("UPDATE")]
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    assert api.get("/api/registrations/").status_code == 200
    assert ApiToken.objects.get().last_used_at > first


def test_another_user_can_neither_see_nor_revoke_my_token():
    alice = user("alice")
    token, secret = token_create(user=alice, name="alice-ci")
    bob = signed_in(user("bob"))
    assert "alice-ci" not in bob.get("/tokens/").content.decode()
    assert bob.get(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert bob.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get().active
    assert (
        Client(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/registrations/").status_code == 200
    )


def test_staff_see_every_token_with_its_owner_and_can_revoke_any():
    token, secret = token_create(user=user("alice"), name="alice-ci")
    token_create(user=user("bob"), name="bob-ci")
    staff = signed_in(user("admin", staff=True))
    page = staff.get("/tokens/").content.decode()
    assert "Everyone's tokens" in page
    assert re.search(r'Owner">alice</td>\s*<td data-label="Name">alice-ci', page)
    assert re.search(r'Owner">bob</td>\s*<td data-label="Name">bob-ci', page)
    assert staff.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    assert not ApiToken.objects.get(pk=token.pk).active
    api = Client(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/registrations/").status_code == 401


def test_a_name_is_required_and_unique_among_my_active_tokens():
    alice = signed_in(user("alice"))
    empty = alice.post("/tokens/", {"name": "  "})
    assert empty.status_code == 400
    assert "name is required" in empty.content.decode()
    make_on_page(alice, "CI")
    again = alice.post("/tokens/", {"name": "CI"})
    assert again.status_code == 400
    assert "you already have a token named &#x27;CI&#x27;" in again.content.decode()
    make_on_page(signed_in(user("bob")), "CI")  # another person's names are theirs
    alice.post(f"/tokens/{ApiToken.objects.get(user__username='alice').pk}/revoke/")
    make_on_page(alice, "CI")  # a revoked token's name is free again


def test_a_person_holds_at_most_twenty_tokens_and_makes_at_most_twenty_a_day():
    alice = user("alice")
    for number in range(MAX_ACTIVE_PER_USER):
        token_create(user=alice, name=f"job {number}")
    refused = signed_in(alice).post("/tokens/", {"name": "one more"})
    assert refused.status_code == 400
    assert "you have 20 tokens, the most allowed: revoke one first" in refused.content.decode()
    ApiToken.objects.update(revoked_at=timezone.now())
    refused = signed_in(alice).post("/tokens/", {"name": "one more"})
    assert "20 tokens were made in the last 24 hours" in refused.content.decode()
    ApiToken.objects.update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    make_on_page(signed_in(alice), "one more")


def test_revoking_needs_a_post_with_the_csrf_token():
    alice = user("alice")
    token, _ = token_create(user=alice, name="CI")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 403
    assert ApiToken.objects.get().active
    confirm = client.get(f"/tokens/{token.pk}/revoke/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', confirm.content.decode())
    response = client.post(f"/tokens/{token.pk}/revoke/", {"csrfmiddlewaretoken": csrf[1]})
    assert response.status_code == 302
    assert not ApiToken.objects.get().active


def test_the_pages_need_sign_in():
    response = Client().get("/tokens/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Client().post("/tokens/", {"name": "CI"}).status_code == 302
    assert not ApiToken.objects.exists()


def test_an_unknown_token_gets_401_and_an_inactive_user_s_token_too():
    assert (
        Client(HTTP_AUTHORIZATION="Token cdn_" + "x" * 43).get("/api/registrations/").status_code
        == 401
    )
    alice = user("alice")
    _, secret = token_create(user=alice, name="CI")
    alice.is_active = False
    alice.save()
    response = Client(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/registrations/")
    assert response.status_code == 401
    assert "inactive" in response.json()["detail"]
