from __future__ import annotations

import email
import email.policy
import subprocess
import sys

import pytest
from aiosmtpd.controller import Controller

from channels import email as email_channel
from channels.base import ChannelError
from channels.email import EmailSetup, build_message
from notifier.env import email_from_url
from tests.support.services import free_port


class Mailbox:
    """An aiosmtpd handler that keeps what it receives, and can refuse on demand."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse_rcpt: dict[str, str] = {}
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    url = f"smtp://127.0.0.1:{controller.port}"
    settings.EMAIL_URL = url
    for name, value in email_from_url(url).items():
        setattr(settings, name, value)
    settings.NOTIFIER_FROM_EMAIL = "deploys@example.com"
    yield mailbox
    controller.stop()


def setup(**fields) -> EmailSetup:
    return EmailSetup(recipients="ops@example.com, dev@example.com", **fields)


def test_the_message_is_multipart_text_and_html(failed_event):
    message = build_message(
        failed_event, setup(), recipients=["ops@example.com"], from_email="d@example.com"
    )
    assert message.subject == "❌ storefront/canary deployment d-3HX9WQ2LA failed"
    assert "HOOK_EXECUTION_FAILURE" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{failed_event.console_url.replace("&", "&amp;")}"' in html
    assert "d-5RT8YB3NC" in html and "<strong>HOOK_EXECUTION_FAILURE</strong>" in html


def test_overrides_shape_subject_and_both_parts(succeeded_event):
    message = build_message(
        succeeded_event,
        setup(
            subject_template="[deploy] {{ event.application }}",
            body_template="Shipped <{{ event.revision.summary }}>",
        ),
        recipients=["ops@example.com"],
        from_email="d@example.com",
    )
    assert message.subject == "[deploy] storefront"
    assert message.body.strip() == "Shipped <9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6>"
    assert "Shipped &lt;9f1c2d3e" in message.alternatives[0][0]  # escaped in HTML


def test_it_sends_through_a_real_smtp_server(smtp, failed_event):
    delivery = email_channel.send(failed_event, setup())

    assert delivery.detail == "sent to 2 recipient(s)"
    ((rcpt_tos, message),) = smtp.messages
    assert rcpt_tos == ["ops@example.com", "dev@example.com"]
    assert message["From"] == "deploys@example.com"
    assert message["Subject"] == "❌ storefront/canary deployment d-3HX9WQ2LA failed"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Error: HOOK_EXECUTION_FAILURE" in text and "Rollback: deployment d-5RT8YB3NC" in text
    assert "Open the deployment in the AWS console" in html
    assert message["References"] == "<d-3HX9WQ2LA.codedeploy-notifier@us-east-1>"


def test_a_refused_recipient_is_permanent(smtp, failed_event):
    smtp.refuse_rcpt = {"ops@example.com": "550 5.1.1 No such user"}
    smtp.refuse_rcpt["dev@example.com"] = "550 5.1.1 No such user"
    with pytest.raises(ChannelError) as caught:
        email_channel.send(failed_event, setup())
    assert not caught.value.retryable
    assert "refused the recipients ops@example.com (550" in caught.value.message


def test_a_temporary_smtp_failure_is_retryable(smtp, failed_event):
    smtp.data_reply = "451 4.3.0 Try again later"
    with pytest.raises(ChannelError) as caught:
        email_channel.send(failed_event, setup())
    assert caught.value.retryable and "451" in caught.value.message


@pytest.mark.fault
def test_an_unreachable_server_is_retryable(settings, failed_event):
    url = f"smtp://127.0.0.1:{free_port()}"
    settings.EMAIL_URL = url
    for name, value in email_from_url(url).items():
        setattr(settings, name, value)
    with pytest.raises(ChannelError) as caught:
        email_channel.send(failed_event, setup())
    assert caught.value.retryable


def test_without_email_url_it_says_what_to_set(settings, failed_event):
    settings.EMAIL_URL = ""
    with pytest.raises(ChannelError, match="EMAIL_URL is not set") as caught:
        email_channel.send(failed_event, setup())
    assert not caught.value.retryable


def test_recipients_are_validated_by_field(registration):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        EmailSetup(registration=registration, recipients="ops@, x", events=["failed"]).full_clean()
    assert "Not an email address: ops@, x" in caught.value.message_dict["recipients"][0]


def test_email_url_becomes_django_settings():
    assert email_from_url("smtp://user:p%40ss@mail.example.com:587?tls=true") == {
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "user",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }
    assert email_from_url("smtps://mail.example.com")["EMAIL_PORT"] == 465
    assert email_from_url("smtps://mail.example.com")["EMAIL_USE_SSL"] is True


def test_smtp_with_ssl_true_is_implicit_tls_and_tls_true_is_starttls():
    assert email_from_url("smtp://mail.example.com:465?ssl=true")["EMAIL_USE_SSL"] is True
    assert email_from_url("smtp://mail.example.com:465?ssl=true")["EMAIL_USE_TLS"] is False
    assert email_from_url("smtp://mail.example.com:587?tls=TRUE")["EMAIL_USE_TLS"] is True
    assert email_from_url("smtp://mail.example.com")["EMAIL_PORT"] == 25
    assert email_from_url("smtps://u:p@mail.example.com:2465") == {
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 2465,
        "EMAIL_HOST_USER": "u",
        "EMAIL_HOST_PASSWORD": "p",
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": True,
    }


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://user:hunter2@mail.example.com", "EMAIL_URL must look like smtp://"),
        ("smtp://user:hunter2@mail.example.com:port", "EMAIL_URL has a port that is not a number"),
        ("smtp://user:hunter2@:25", "EMAIL_URL names no host"),
        ("smtp://user:hunter2@mail.example.com?timeout=soon", "EMAIL_URL has a query value"),
    ],
)
def test_a_bad_email_url_is_named_and_its_password_never_shown(url, words):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=words) as caught:
        email_from_url(url)
    assert "hunter2" not in str(caught.value)


def test_the_service_reads_email_url_into_django_settings_at_start():
    import os

    script = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, "
        "s.EMAIL_USE_TLS, s.EMAIL_USE_SSL)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        env={**os.environ, "EMAIL_URL": "smtps://ops%40example.com:p%3Ass@Mail.Example.com"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "mail.example.com",
        "465",
        "ops@example.com",
        "p:ss",
        "False",
        "True",
    ]
    assert "Warning" not in result.stderr


@pytest.mark.parametrize(
    "env, words",
    [
        ({"EMAIL_URL": "http://mail.example.com"}, "EMAIL_URL must look like smtp://"),
        ({"NOTIFIER_ENCRYPTION_KEY": "not-a-key"}, "NOTIFIER_ENCRYPTION_KEY must be"),
    ],
)
def test_a_bad_setting_stops_start_up(env, words):
    import os

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and words in result.stderr
