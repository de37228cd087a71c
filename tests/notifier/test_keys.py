"""No public default keys: the service refuses to start without its two keys, makes them on
request, and the laptop path (`make run`) keeps a pair in var/keys.env."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
KEY_NAMES = ("DJANGO_SECRET_KEY", "NOTIFIER_ENCRYPTION_KEY")


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fresh machine: no keys, no settings module, nothing of the test run's environment."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "NOTIFIER_VAR_DIR": str(tmp_path / "var"),
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def parse_env_lines(text: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def assert_valid_keys(keys: dict[str, str]) -> None:
    assert set(keys) == set(KEY_NAMES)
    Fernet(keys["NOTIFIER_ENCRYPTION_KEY"])  # raises if it is not a Fernet key
    secret_key = keys["DJANGO_SECRET_KEY"]
    # What Django's own deployment check asks of a secret key.
    assert len(secret_key) >= 50 and len(set(secret_key)) >= 5


def test_it_refuses_to_start_without_keys_when_debug_is_off(tmp_path):
    result = manage("check", env=bare_env(tmp_path))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "DJANGO_SECRET_KEY" in message and "NOTIFIER_ENCRYPTION_KEY" in message
    assert "python manage.py generate_keys" in message


@pytest.mark.parametrize("present, missing", [KEY_NAMES, tuple(reversed(KEY_NAMES))])
def test_it_names_the_one_key_that_is_missing(tmp_path, present, missing):
    keys = parse_env_lines(manage("generate_keys", env=bare_env(tmp_path)).stdout)
    result = manage("check", env=bare_env(tmp_path, **{present: keys[present]}))

    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert missing in message and present not in message


def test_generate_keys_prints_two_fresh_keys_on_a_machine_with_nothing_set(tmp_path):
    first = manage("generate_keys", env=bare_env(tmp_path))
    second = manage("generate_keys", env=bare_env(tmp_path))

    assert first.returncode == 0, first.stderr
    keys = parse_env_lines(first.stdout)
    assert_valid_keys(keys)
    assert parse_env_lines(second.stdout) != keys  # fresh every time
    assert not (tmp_path / "var").exists()  # printing keys stores nothing
    # They are what the service asks for.
    checked = manage("check", env=bare_env(tmp_path, **keys))
    assert checked.returncode == 0, checked.stderr


def test_the_make_step_creates_the_keys_file_once_with_mode_0600_and_reuses_it(tmp_path):
    keys_file = tmp_path / "var" / "keys.env"
    make = [
        "make",
        "--no-print-directory",
        "-o",
        ".venv/.installed",  # never reinstall from a test
        f"BIN={Path(sys.executable).parent}",
        f"KEYS_FILE={keys_file}",
        str(keys_file),
    ]
    env = bare_env(tmp_path)
    created = subprocess.run(make, cwd=ROOT, env=env, capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    text = keys_file.read_text()
    assert_valid_keys(parse_env_lines(text))
    assert not [p for p in keys_file.parent.iterdir() if p != keys_file]  # no temporary left

    again = subprocess.run(make, cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert keys_file.read_text() == text
    # The command itself never replaces a keys file either.
    direct = manage("generate_keys", "--file", str(keys_file), env=env)
    assert direct.returncode == 0, direct.stderr
    assert "keeping it" in direct.stdout
    assert keys_file.read_text() == text


def settings_seen(env: dict[str, str]) -> dict[str, str]:
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; "
        "print('DJANGO_SECRET_KEY=' + settings.SECRET_KEY); "
        "print('NOTIFIER_ENCRYPTION_KEY=' + settings.NOTIFIER_ENCRYPTION_KEY)",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return parse_env_lines(result.stdout)


def test_the_settings_read_the_keys_file_and_the_environment_wins(tmp_path):
    keys_file = tmp_path / "keys.env"
    assert manage("generate_keys", "--file", str(keys_file), env=bare_env(tmp_path)).returncode == 0
    from_file = parse_env_lines(keys_file.read_text())

    assert settings_seen(bare_env(tmp_path, NOTIFIER_KEYS_FILE=str(keys_file))) == from_file

    own = Fernet.generate_key().decode()
    seen = settings_seen(
        bare_env(tmp_path, NOTIFIER_KEYS_FILE=str(keys_file), NOTIFIER_ENCRYPTION_KEY=own)
    )
    assert seen == {**from_file, "NOTIFIER_ENCRYPTION_KEY": own}


def test_a_keys_file_that_is_missing_is_refused_with_how_to_make_it(tmp_path):
    keys_file = tmp_path / "nowhere.env"
    result = manage("check", env=bare_env(tmp_path, NOTIFIER_KEYS_FILE=str(keys_file)))
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "NOTIFIER_KEYS_FILE" in message and str(keys_file) in message
    assert "generate_keys --file" in message


def test_with_debug_on_and_nothing_set_the_keys_are_made_once_in_var(tmp_path):
    env = bare_env(tmp_path, DJANGO_DEBUG="true")
    first = settings_seen(env)
    keys_file = tmp_path / "var" / "keys.env"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert first == parse_env_lines(keys_file.read_text())
    assert_valid_keys(first)
    assert settings_seen(env) == first


def test_make_migrate_works_on_a_machine_with_nothing_set(tmp_path):
    keys_file = tmp_path / "var" / "keys.env"
    env = bare_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'notifier.sqlite3'}")
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/.installed",
            f"BIN={Path(sys.executable).parent}",
            f"KEYS_FILE={keys_file}",
            "migrate",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert_valid_keys(parse_env_lines(keys_file.read_text()))
