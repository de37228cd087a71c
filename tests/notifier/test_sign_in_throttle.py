"""Sign-in is throttled (django-axes): five wrong passwords for one username from one address
lock that pair out for AXES_COOLOFF_MINUTES; nobody else is affected. The real sign-in views:
the history pages' /login/ and the admin's /admin/login/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from tests.support.history import PASSWORD, user

pytestmark = pytest.mark.django_db

SIGN_IN_PAGES = ["/login/", "/admin/login/"]


def sign_in(client: Client, path: str, username: str, password: str, **headers):
    return client.post(path, {"username": username, "password": password}, **headers)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail_five_times(client: Client, path: str, username: str, **headers) -> None:
    for _ in range(4):
        response = sign_in(client, path, username, "wrong-password", **headers)
        assert response.status_code == 200  # the form again, with its error
    # The fifth failure locks the pair out at once.
    assert sign_in(client, path, username, "wrong-password", **headers).status_code == 429
    assert not signed_in(client)


@pytest.mark.parametrize("path", SIGN_IN_PAGES)
def test_the_sixth_try_is_refused_even_with_the_right_password(path):
    user("alice", staff=True)
    client = Client()
    fail_five_times(client, path, "alice")

    response = sign_in(client, path, "alice", PASSWORD)

    assert response.status_code == 429
    assert not signed_in(client)
    page = response.content.decode()
    assert "Too many failed sign-ins for alice" in page
    assert "Try again in 15 minutes" in page
    assert PASSWORD not in page
    assert response["Retry-After"] == str(15 * 60)


@pytest.mark.parametrize("path", SIGN_IN_PAGES)
def test_another_user_from_the_same_address_is_unaffected(path):
    user("alice", staff=True)
    user("bob", staff=True)
    fail_five_times(Client(), path, "alice")

    bob = Client()
    response = sign_in(bob, path, "bob", PASSWORD)

    assert response.status_code == 302
    assert signed_in(bob)


def test_the_same_user_from_another_address_is_unaffected():
    user("alice")
    fail_five_times(Client(REMOTE_ADDR="203.0.113.5"), "/login/", "alice")

    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert sign_in(elsewhere, "/login/", "alice", PASSWORD).status_code == 302


def test_a_locked_out_user_signs_in_again_after_the_cool_off():
    user("alice")
    client = Client()
    fail_five_times(client, "/login/", "alice")
    assert sign_in(client, "/login/", "alice", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert sign_in(client, "/login/", "alice", PASSWORD).status_code == 302


def test_every_try_during_the_lockout_starts_the_wait_again():
    user("alice")
    client = Client()
    fail_five_times(client, "/login/", "alice")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
    assert sign_in(client, "/login/", "alice", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
    assert sign_in(client, "/login/", "alice", PASSWORD).status_code == 429


def test_fewer_than_five_failures_are_forgotten_after_a_successful_sign_in():
    user("alice")
    client = Client()
    for _ in range(4):
        sign_in(client, "/login/", "alice", "wrong-password")
    assert sign_in(client, "/login/", "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        sign_in(client, "/login/", "alice", "wrong-password")
    assert sign_in(client, "/login/", "alice", PASSWORD).status_code == 302


def test_behind_a_proxy_the_client_address_is_the_one_the_proxy_saw(settings):
    """NOTIFIER_PROXY_COUNT=1: the last X-Forwarded-For entry is the proxy's view of the
    client; entries before it are what the client claimed, and count for nothing."""
    settings.NOTIFIER_PROXY_COUNT = 1
    user("alice")
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    attacker = Client(**proxy)
    fail_five_times(attacker, "/login/", "alice", HTTP_X_FORWARDED_FOR="203.0.113.5")

    # The attacker claims another address in front of its own: still locked out.
    spoofed = sign_in(
        attacker, "/login/", "alice", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.5"
    )
    assert spoofed.status_code == 429

    # Alice, behind the same proxy from her own address, signs in.
    alice = Client(**proxy)
    response = sign_in(alice, "/login/", "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert response.status_code == 302
