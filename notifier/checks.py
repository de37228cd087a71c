"""System checks: a provider setting that setups of its kind need is missing.

Shown by ``manage.py check``, at the start of every management command that runs checks
(``run_service``, ``runserver``, ``qcluster``), and on the /status/ page.

They are Warnings, not Errors: an Error stops ``runserver`` and ``qcluster`` from starting,
and one misconfigured provider must not stop the service from delivering every other kind
(a New Relic key missing should not silence Slack). The deliveries of the affected kind fail
with a ``bad_config`` error that names the same setting, so nothing is lost silently.

They read the default database (which setups exist), although Django asks database checks to
touch only the databases passed to them (``check --database``): a plain ``manage.py check``
is where people look, and the setups are configuration. So they never fail on the database:
before ``migrate`` has made the tables, or while the database is down, they report nothing
(``migrate`` itself runs checks before it creates any table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.checks import CheckMessage, Warning
from django.db import DatabaseError, connections

from channels.registry import label_for

TAG = "providers"


def _aws_region_missing() -> bool:
    """The region channels.aws's clients will use: boto3's own chain, as they resolve it."""
    import boto3

    return not boto3.session.Session().region_name


@dataclass(frozen=True)
class Requirement:
    id: str
    kinds: tuple[str, ...]
    setting: str
    missing: Callable[[], bool]
    hint: str


REQUIREMENTS = (
    Requirement(
        "notifier.W001",
        ("newrelic",),  # both REST v2 and NerdGraph send NEW_RELIC_API_KEY
        "NEW_RELIC_API_KEY",
        lambda: not settings.NEW_RELIC_API_KEY,
        "Set NEW_RELIC_API_KEY to a New Relic User API key (NRAK-...) and restart the service.",
    ),
    Requirement(
        "notifier.W002",
        ("email",),
        "EMAIL_URL",
        lambda: not settings.EMAIL_URL,
        "Set EMAIL_URL to your SMTP server, e.g. smtp://user:password@smtp.example.com:587"
        "?tls=true, and restart the service.",
    ),
    Requirement(
        "notifier.W003",
        ("ses", "sns"),
        "AWS_DEFAULT_REGION",
        _aws_region_missing,
        "Set AWS_DEFAULT_REGION (or a region in the AWS config file) to the region of your SES "
        "identities and SNS topics, and restart the service. boto3, which sends to SES and SNS, "
        "does not read AWS_REGION.",
    ),
)


def enabled_setups_by_kind(*, using: str = "default") -> dict[str, int]:
    """How many enabled setups each kind has; empty when the table does not exist yet or the
    database cannot be read."""
    from django.db.models import Count

    from registrations.models import NotificationSetup

    connection = connections[using]
    try:
        if NotificationSetup._meta.db_table not in connection.introspection.table_names():
            return {}
        rows = (
            NotificationSetup.objects.using(using)
            .filter(enabled=True)
            .values_list("kind")
            .annotate(count=Count("id"))
        )
        return dict(rows)
    except DatabaseError:
        return {}


def provider_problems() -> list[CheckMessage]:
    """A Warning for each provider setting that enabled setups need and the service lacks."""
    counts = enabled_setups_by_kind()
    problems: list[CheckMessage] = []
    for requirement in REQUIREMENTS:
        needing = sum(counts.get(kind, 0) for kind in requirement.kinds)
        if not needing or not requirement.missing():
            continue
        kinds = " and ".join(label_for(kind) for kind in requirement.kinds if counts.get(kind))
        setups = "setup needs" if needing == 1 else "setups need"
        problems.append(
            Warning(
                f"{requirement.setting} is not set, and {needing} enabled {kinds} {setups} it: "
                "their notifications fail until it is set.",
                hint=requirement.hint,
                id=requirement.id,
            )
        )
    return problems


def provider_settings(app_configs=None, databases=None, **kwargs) -> list[CheckMessage]:
    return provider_problems()
