"""The service's two keys, and the keys file that can hold them.

`DJANGO_SECRET_KEY` signs sessions, CSRF tokens and password-reset links;
`NOTIFIER_ENCRYPTION_KEY` (Fernet keys, comma-separated, newest first) encrypts the secrets
stored in notification setups. The source holds no default for either: with debug off the
settings refuse to load without them. `python manage.py generate_keys` makes a fresh pair.

A keys file (`NOTIFIER_KEYS_FILE`, and with debug on `var/keys.env`) holds them as
`NAME=value` lines, the format of an env file for systemd, Docker or a shell. Variables set in
the environment win over the file.

This module imports nothing of Django's settings: the settings use it, and so does
`generate_keys`, which has to run before any key exists.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

KEY_NAMES = ("DJANGO_SECRET_KEY", "NOTIFIER_ENCRYPTION_KEY")


def keys_generate() -> dict[str, str]:
    """A fresh pair. The secret key is URL-safe (no quotes or `$`), so it needs no escaping
    in an env file or a shell, and is 67 characters (Django's deployment check asks 50)."""
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "NOTIFIER_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def keys_env_text(*, keys: dict[str, str]) -> str:
    return "".join(f"{name}={keys[name]}\n" for name in KEY_NAMES)


def keys_file_create(*, path: Path) -> bool:
    """Write a fresh pair to `path`, readable by its owner only (0600), unless a file is
    already there: True if it was created, False if an existing one was kept.

    Atomic: the keys are written and flushed to a temporary file in the same directory,
    which is then hard-linked to `path` (a link fails if `path` exists, so two concurrent
    callers cannot both win, and nothing is ever replaced). A crash leaves either no keys
    file or a complete one, never half of one.
    """
    path = Path(path)
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".keys-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(
                "# CodeDeploy Notifier keys, made by `python manage.py generate_keys`.\n"
                "# Keep this file: stored secrets cannot be read without "
                "NOTIFIER_ENCRYPTION_KEY.\n"
            )
            file.write(keys_env_text(keys=keys_generate()))
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
    finally:
        os.unlink(temporary)
    return True


def keys_file_read(*, path: Path, variable: str = "NOTIFIER_KEYS_FILE") -> dict[str, str]:
    """The keys in a keys file; ImproperlyConfigured (naming the file and the line, never a
    value) if it is missing or holds anything else."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"{variable} names {path}, which does not exist: make it with "
            f"`python manage.py generate_keys --file {path}`, or unset {variable} and set "
            f"{' and '.join(KEY_NAMES)} in the environment"
        ) from None
    except OSError as exc:
        raise ImproperlyConfigured(
            f"{variable} names {path}, which cannot be read: {exc}"
        ) from None
    keys: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip().strip("'\"")
        if not equals or name not in KEY_NAMES:
            raise ImproperlyConfigured(
                f"{variable} ({path}) line {number} is not DJANGO_SECRET_KEY=... or "
                "NOTIFIER_ENCRYPTION_KEY=...: only the two keys are read from it; set other "
                "variables in the environment"
            )
        keys[name] = value
    return keys


def keys_load(*, keys_file: str, debug: bool, var_dir: Path) -> tuple[str, str]:
    """DJANGO_SECRET_KEY and NOTIFIER_ENCRYPTION_KEY for the settings: from the environment,
    else from `keys_file` (NOTIFIER_KEYS_FILE), else, with debug on, from var_dir/keys.env,
    made once. ImproperlyConfigured saying how to make them when one is missing, and when
    the encryption key is not Fernet keys."""
    if not keys_file and debug and not all(os.environ.get(name) for name in KEY_NAMES):
        keys_file = str(var_dir / "keys.env")
        keys_file_create(path=Path(keys_file))
    from_file = keys_file_read(path=Path(keys_file)) if keys_file else {}
    keys = {name: os.environ.get(name, "").strip() or from_file.get(name, "") for name in KEY_NAMES}
    missing = [name for name in KEY_NAMES if not keys[name]]
    if missing:
        where = f" (nor in NOTIFIER_KEYS_FILE, {keys_file})" if keys_file else ""
        raise ImproperlyConfigured(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set{where}, "
            "and there is no default. Run `python manage.py generate_keys`: it prints fresh "
            "values as KEY=value lines; put them in the service's environment (or save them "
            "with `python manage.py generate_keys --file /path/keys.env` and set "
            "NOTIFIER_KEYS_FILE=/path/keys.env)."
            + (
                " Keep NOTIFIER_ENCRYPTION_KEY: stored secrets cannot be read without it."
                if "NOTIFIER_ENCRYPTION_KEY" in missing
                else ""
            )
        )
    encryption_key_check(value=keys["NOTIFIER_ENCRYPTION_KEY"])
    return keys["DJANGO_SECRET_KEY"], keys["NOTIFIER_ENCRYPTION_KEY"]


def encryption_key_check(*, value: str) -> None:
    """ImproperlyConfigured unless `value` is one or more comma-separated Fernet keys."""
    for key in value.split(","):
        try:
            Fernet(key.strip())
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                "NOTIFIER_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
                "(32 url-safe base64-encoded bytes each; make one with "
                "python manage.py generate_keys)"
            ) from None
