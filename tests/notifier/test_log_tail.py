"""A hook's log tail goes to chat rooms and inboxes: credentials in it are masked before it is
stored or sent, and only its last lines are kept."""

from __future__ import annotations

import pytest

from notifier import targets
from notifier.log_tail import LOG_TAIL_BYTES, LOG_TAIL_LINES, MASK, fit, last_lines, redact
from tests.support.codedeploy_targets import fixture_target


@pytest.mark.parametrize(
    ("line", "secret", "kept"),
    [
        (
            "[stderr]+ export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
            "IOSFODNN7EXAMPLE",
            "export AWS_ACCESS_KEY_ID=",
        ),
        ("[stdout]using credentials ASIAY34FZKBOKMUTVV7A for s3", "Y34FZKBOKMUTVV7A", "ASIA"),
        (
            "[stderr]aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI",
            "aws_secret_access_key = ",
        ),
        ("[stdout]DB_PASSWORD=hunter2 node server.js", "hunter2", "node server.js"),
        ("[stdout]+ mysql -u root --password s3cr3t-pw -e 'select 1'", "s3cr3t-pw", "-u root"),
        ('[stdout]config: {"api_key": "0123456789abcdef0123"}', "0123456789abcdef", "api_key"),
        ("[stdout]GET /health?token=abc123&x=1 200", "abc123", "&x=1"),
        (
            "[stderr]curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'",
            "eyJhbGciOiJIUzI1NiJ9",
            "Authorization: Bearer ",
        ),
        ("[stderr]Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA", "Basic"),
        (
            "[stderr]could not connect to postgres://app:Pa55word@db.internal:5432/shop",
            "Pa55word",
            "@db.internal:5432/shop",
        ),
        ("[stdout]secret_key 9f1c2d3e4b5a69788796a5b4c3d2e1f0", "9f1c2d3e4b5a6978", "secret_key "),
        ("[stdout]GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghij", "="),
        ("[stdout]slack: xoxb-1234-5678-abcdefghij", "1234-5678", "xoxb-"),
    ],
)
def test_credentials_in_log_lines_are_masked(line, secret, kept):
    cleaned = redact(line)
    assert secret not in cleaned
    assert MASK in cleaned
    assert kept in cleaned


@pytest.mark.parametrize(
    "line",
    [
        "[stderr]FATAL: password authentication failed for user app",
        "[stdout]token expired, requesting a new one",
        "[stdout]Starting storefront on port 8080",
        "[stderr]Error: listen EADDRINUSE: address already in use :::8080",
        "[stdout]PASSWORD=${DB_PASSWORD} from the environment",
    ],
)
def test_ordinary_log_lines_are_left_as_they_are(line):
    assert redact(line) == line


def test_a_private_key_block_is_masked_whole_even_when_its_start_was_cut_off():
    tail = (
        "[stdout]writing key\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAxyz\n"
        "q2Vy+abc\n-----END RSA PRIVATE KEY-----\n[stdout]done"
    )
    cleaned = redact(tail)
    assert "MIIEpAIBAAKCAQEAxyz" not in cleaned and "q2Vy" not in cleaned
    assert cleaned.startswith("[stdout]writing key\n") and cleaned.endswith("[stdout]done")

    cut = "Kq2Vy+abcdef\nZm9vYmFy\n-----END OPENSSH PRIVATE KEY-----\n[stdout]started"
    cleaned = redact(cut)
    assert "Kq2Vy" not in cleaned and "Zm9vYmFy" not in cleaned
    assert cleaned.endswith("[stdout]started")

    unended = "[stdout]key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0"
    assert "MIIEvQ" not in redact(unended)


def test_only_the_last_lines_within_two_kib_are_kept():
    tail = "\n".join(f"[stdout]line {n}" for n in range(100))
    kept = fit(tail)
    assert kept.splitlines()[-1] == "[stdout]line 99"
    assert kept.splitlines()[0] == "…"
    assert len(kept.splitlines()) == LOG_TAIL_LINES + 1
    assert "line 79" not in kept and "line 80" in kept

    wide = "\n".join("x" * 300 for _ in range(20))
    assert len(fit(wide).encode()) <= LOG_TAIL_BYTES

    one_long_line = "é" * 5000
    cut = last_lines(one_long_line)
    assert len(cut.encode()) <= LOG_TAIL_BYTES and cut.startswith("…")
    assert fit("") == ""


def test_a_secret_is_masked_before_the_tail_is_cut():
    secret_then_noise = "[stdout]TOKEN=" + "a1" * 1500
    assert "a1a1" not in fit(secret_then_noise)


def test_the_failure_point_from_aws_carries_the_redacted_tail():
    raw = fixture_target("d-1")
    diagnostics = raw["instanceTarget"]["lifecycleEvents"][2]["diagnostics"]
    diagnostics["logTail"] = (
        "[stdout]Starting with AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        "[stderr]Error: listen EADDRINUSE\n"
    )
    diagnostics["message"] = "Script failed: password=hunter22 rejected"
    failure = targets.failure_from_targets([raw], failed_targets=1)
    assert "wJalrXUtnFEMI" not in failure.log_tail
    assert failure.log_tail.endswith("[stderr]Error: listen EADDRINUSE")
    assert "hunter22" not in failure.message
