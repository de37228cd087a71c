"""manage.py rotate_encryption_key: every stored secret re-encrypted with the first key."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection

from channels.pagerduty import PagerDutySetup
from channels.secrets import PREFIX
from channels.slack import SlackSetup
from channels.teams import TeamsSetup
from channels.webhook import WebhookSetup
from registrations.models import Registration

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()
HOOK = "https://example.com/hooks/abcdefghijklmnop"


@pytest.fixture
def registration(db) -> Registration:
    return Registration.objects.create(codedeploy_application_name="storefront")


def stored(model, pk: int, field: str) -> str:
    """The value as it is in the database (encrypted), not as the model decrypts it."""
    column = model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {model._meta.db_table} WHERE {model._meta.pk.column} = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def store_raw(model, pk: int, field: str, value: str) -> None:
    column = model._meta.get_field(field).column
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET {column} = %s WHERE {model._meta.pk.column} = %s",  # noqa: S608
            [value, pk],
        )


def decrypts_with(key: str, value: str) -> bool:
    assert value.startswith(PREFIX)
    try:
        Fernet(key).decrypt(value[len(PREFIX) :].encode())
    except InvalidToken:
        return False
    return True


def rotate(**options) -> str:
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def secrets_under_a(registration, settings):
    """One setup of every kind that keeps a secret, all encrypted with key A."""
    settings.NOTIFIER_ENCRYPTION_KEY = KEY_A
    rows = [
        WebhookSetup.objects.create(
            registration=registration, url=HOOK, secret="hmac-secret-1", headers="X-Token: t0k3n-1"
        ),
        WebhookSetup.objects.create(registration=registration, url=HOOK + "2", secret="s2"),
        SlackSetup.objects.create(
            registration=registration, bot_token="xoxb-123-456", channel="C1"
        ),
        TeamsSetup.objects.create(registration=registration, webhook_url=HOOK + "teams"),
        PagerDutySetup.objects.create(registration=registration, routing_key="r" * 32),
    ]
    settings.NOTIFIER_ENCRYPTION_KEY = f"{KEY_B},{KEY_A}"
    return rows


def every_stored_secret(rows) -> list[str]:
    from channels.secrets import secret_field_names

    values = []
    for row in rows:
        for name in secret_field_names(type(row)):
            value = stored(type(row), row.pk, name)
            if value:
                values.append(value)
    return values


def test_it_re_encrypts_every_stored_secret_with_the_first_key(secrets_under_a, settings):
    output = rotate()

    values = every_stored_secret(secrets_under_a)
    assert len(values) == 8
    assert all(decrypts_with(KEY_B, v) and not decrypts_with(KEY_A, v) for v in values)
    assert "notification_channels.WebhookSetup: 2 rows, 5 secrets re-encrypted" in output
    assert "notification_channels.SlackSetup: 1 rows, 1 secrets re-encrypted" in output
    # With only the new key, the setups still read as they were written.
    settings.NOTIFIER_ENCRYPTION_KEY = KEY_B
    webhook = WebhookSetup.objects.get(pk=secrets_under_a[0].pk)
    assert (webhook.url, webhook.secret, webhook.headers) == (
        HOOK,
        "hmac-secret-1",
        "X-Token: t0k3n-1",
    )
    assert SlackSetup.objects.get().bot_token == "xoxb-123-456"


def test_running_it_twice_finds_nothing_to_do_the_second_time(secrets_under_a):
    rotate()
    after_first = every_stored_secret(secrets_under_a)

    output = rotate()
    assert "Nothing to do" in output
    assert every_stored_secret(secrets_under_a) == after_first


def test_a_run_interrupted_half_way_is_finished_by_running_it_again(secrets_under_a):
    # What an interrupted run leaves: some rows already under B, the rest under A.
    assert "Stopped after rewriting 2 row(s)" in rotate(limit=2)
    values = every_stored_secret(secrets_under_a)
    assert any(decrypts_with(KEY_A, v) for v in values)
    assert any(decrypts_with(KEY_B, v) for v in values)

    output = rotate()
    assert all(decrypts_with(KEY_B, v) for v in every_stored_secret(secrets_under_a))
    assert "already encrypted with the first key" in output


def test_it_shows_progress_every_batch(secrets_under_a):
    output = rotate(batch_size=1)
    assert output.count("notification_channels.WebhookSetup: 1 rows checked") == 1
    assert "notification_channels.WebhookSetup: 2 rows checked" in output


def test_a_secret_no_listed_key_decrypts_is_reported_left_alone_and_fails_the_run(
    secrets_under_a,
):
    lost = Fernet(KEY_C).encrypt(b"only-c-knows-this").decode()
    store_raw(WebhookSetup, secrets_under_a[1].pk, "secret", PREFIX + lost)

    with pytest.raises(CommandError) as caught:
        rotate()

    assert "NOTIFIER_ENCRYPTION_KEY" in str(caught.value)
    assert "missing" in str(caught.value)
    # Left exactly as it was; everything else rotated.
    assert stored(WebhookSetup, secrets_under_a[1].pk, "secret") == PREFIX + lost
    others = [v for v in every_stored_secret(secrets_under_a) if v != PREFIX + lost]
    assert all(decrypts_with(KEY_B, v) for v in others)


def test_the_unreadable_secret_is_named_by_model_id_and_field_never_by_value(secrets_under_a):
    lost = Fernet(KEY_C).encrypt(b"only-c-knows-this").decode()
    pk = secrets_under_a[1].pk
    store_raw(WebhookSetup, pk, "secret", PREFIX + lost)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("rotate_encryption_key", stdout=out, stderr=err)

    text = out.getvalue() + err.getvalue() + str(caught.value)
    assert f"notification_channels.WebhookSetup id={pk} field secret" in text
    assert lost not in text and "only-c-knows-this" not in text


def test_a_secret_stored_before_encryption_is_encrypted(registration, settings):
    settings.NOTIFIER_ENCRYPTION_KEY = KEY_A
    setup = PagerDutySetup.objects.create(registration=registration, routing_key="r" * 32)
    store_raw(PagerDutySetup, setup.pk, "routing_key", "plain-routing-key-1234")

    rotate()

    value = stored(PagerDutySetup, setup.pk, "routing_key")
    assert decrypts_with(KEY_A, value)
    assert PagerDutySetup.objects.get().routing_key == "plain-routing-key-1234"
