"""API tokens outside the page: DRF's tokens keep working as hashes, the migration that moves
them, `manage.py token_create`, the admin (never the token), and the API schema."""

from __future__ import annotations

import hashlib
import importlib
import io

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from registrations.tokens import ApiToken, token_create
from tests.support.history import PASSWORD, user

pytestmark = pytest.mark.django_db


def _superuser() -> User:
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def api_status(secret: str) -> int:
    return Client(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/registrations/").status_code


def test_a_token_made_by_drf_create_token_keeps_working_and_moves_to_a_hash_on_first_use():
    user("automation")
    out = io.StringIO()
    call_command("drf_create_token", "automation", stdout=out)
    key = out.getvalue().split()[2]  # "Generated token <key> for user automation"
    assert Token.objects.filter(key=key).exists()
    assert api_status(key) == 200
    assert not Token.objects.exists()  # the plain-text row is gone
    moved = ApiToken.objects.get()
    assert moved.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert moved.user.username == "automation" and moved.name == f"drf_create_token {key[:8]}"
    assert moved.last_used_at is not None
    assert api_status(key) == 200  # now found by its hash
    moved.revoked_at = moved.last_used_at
    moved.save()
    assert api_status(key) == 401


def test_the_migration_moves_every_drf_token_to_a_hash_and_deletes_the_plain_text():
    alice, bob = user("alice"), user("bob")
    keys = {Token.objects.create(user=alice).key: alice, Token.objects.create(user=bob).key: bob}
    migration = importlib.import_module("registrations.migrations.0006_api_tokens")
    migration.move_drf_tokens(apps, None)
    assert not Token.objects.exists()
    for key, owner in keys.items():
        moved = ApiToken.objects.get(key_hash=hashlib.sha256(key.encode()).hexdigest())
        assert moved.user == owner and moved.prefix == key[:8]
        assert api_status(key) == 200


def test_token_create_prints_only_the_token_which_then_works():
    user("ci-bot")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "token_create", "--user", "ci-bot", "--name", "GitHub Actions", stdout=out, stderr=err
    )
    secret = out.getvalue().strip()
    assert secret.startswith("cdn_") and len(secret) == 47
    assert secret not in err.getvalue() and "GitHub Actions" in err.getvalue()
    assert api_status(secret) == 200
    assert ApiToken.objects.get().name == "GitHub Actions"


def test_token_create_names_the_argument_that_is_wrong():
    with pytest.raises(CommandError, match="--user: no user is named 'nobody'"):
        call_command("token_create", "--user", "nobody", "--name", "CI")
    user("ci-bot")
    call_command("token_create", "--user", "ci-bot", "--name", "CI", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--name: you already have a token named 'CI'"):
        call_command("token_create", "--user", "ci-bot", "--name", "CI")


def test_the_admin_lists_tokens_with_their_owner_never_the_token_and_revokes_them():
    alice = user("alice")
    token, secret = token_create(user=alice, name="alice-ci")
    admin = Client()
    admin.force_login(_superuser())
    page = admin.get("/admin/registrations/apitoken/").content.decode()
    assert "alice-ci" in page and ">alice<" in page and f"{secret[:8]}…" in page
    assert secret not in page and token.key_hash not in page
    detail = admin.get(f"/admin/registrations/apitoken/{token.pk}/change/").content.decode()
    assert secret not in detail and token.key_hash not in detail
    assert admin.get("/admin/registrations/apitoken/add/").status_code == 403
    response = admin.post(
        "/admin/registrations/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert api_status(secret) == 401


def test_the_admin_no_longer_shows_drf_tokens_in_plain_text():
    admin = Client()
    admin.force_login(_superuser())
    assert admin.get("/admin/authtoken/tokenproxy/").status_code == 404


def test_the_api_schema_still_describes_token_authentication():
    admin = Client()
    admin.force_login(_superuser())
    schema = admin.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    token_scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (token_scheme["type"], token_scheme["in"]) == ("apiKey", "header")
    assert token_scheme["name"] == "Authorization"
