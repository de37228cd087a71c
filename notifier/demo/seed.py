"""What the demo starts with, made through the product's own services and commands.

`database_prepare()` does what `make migrate` does. `demo_seed()` then makes the second
source (a role in another account, checked through STS as the admin would), the teams, the
People (Person and rules) for the world's people, the admin user `demo`, the registrations
of notifier/demo/registrations.yaml (applied by registrations-as-code, every kind of setup,
each pointed at the demo inbox), the SNS topics' HTTP subscriptions to the inbox, and the
default source's push queue (`manage.py push_setup --source default`).

Seeding twice is idempotent: nothing is duplicated; the second run finds the sources, teams,
people and user, replaces the generated secrets and the password, and the registrations
document changes only those secrets.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from notifier.demo import world
from registrations.apply import registrations_apply
from registrations.as_code import document_entries, document_load, references_substituted
from registrations.models import NotificationSetup, Registration
from registrations.people import Person, PersonRule
from registrations.sources import Source, source_default, source_save

DOCUMENT = Path(__file__).with_name("registrations.yaml")
TEAMS = ("Web", "Payments")
ADMIN_USER = "demo"
ADMIN_EMAIL = "demo@example.com"


@dataclass
class SeedReport:
    """What the seed made, for the launcher to print."""

    sources: list[str] = field(default_factory=list)
    registrations: int = 0
    setups: int = 0
    kinds: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    queue_url: str = ""
    subscriptions: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"{len(self.sources)} sources ({', '.join(self.sources)}), "
            f"{self.registrations} registrations, {self.setups} setups of "
            f"{len(self.kinds)} kinds ({', '.join(self.kinds)}) made",
            f"people: {', '.join(self.people)}; teams: {', '.join(TEAMS)}; admin user {ADMIN_USER}",
            f"SNS topics deliver to the inbox: {', '.join(self.subscriptions)}",
        ]
        if self.queue_url:
            lines.append(f"push queue made for source default: {self.queue_url}")
        return lines


def database_prepare() -> None:
    """What `make migrate` does: migrate, createcachetable, ensure_schedule --start-now."""
    out = io.StringIO()
    call_command("migrate", interactive=False, verbosity=0, stdout=out)
    call_command("createcachetable", stdout=out)
    call_command("ensure_schedule", "--start-now", stdout=out)


def _sources() -> list[Source]:
    """The world's sources: the default one (made by the migration) and each role source."""
    made = [source_default()]
    for where in world.SOURCES:
        if not where.role_arn:
            continue
        existing = Source.objects.filter(name=where.name).first()
        fields = {
            "name": where.name,
            "region": where.region,
            "credentials": Source.ROLE,
            "role_arn": where.role_arn,
        }
        made.append(source_save(source=existing, fields=fields))
    return made


def _people() -> list[str]:
    """A Person and a rule for each of the world's people: an IAM user name rule, or a
    session name rule."""
    for someone in world.PEOPLE:
        person, _ = Person.objects.update_or_create(
            email=someone.email,
            defaults={"name": someone.name, "slack_user_id": someone.slack_id},
        )
        kind, pattern = (
            (PersonRule.IAM_USER, someone.iam_user)
            if someone.iam_user
            else (PersonRule.SESSION_NAME, someone.session_name)
        )
        PersonRule.objects.get_or_create(person=person, kind=kind, pattern=pattern)
    return [someone.name for someone in world.PEOPLE]


def _admin(password: str) -> None:
    user, _ = get_user_model().objects.get_or_create(
        username=ADMIN_USER, defaults={"email": ADMIN_EMAIL}
    )
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()


def demo_variables(*, inbox: str) -> dict[str, str]:
    """The values of registrations.yaml's ${DEMO_...} references: the inbox's address, the
    demo's topic and sender, and secrets generated now."""
    return {
        "DEMO_INBOX": inbox,
        "DEMO_TOPIC": world.topic_arn("default"),
        "DEMO_SENDER": world.DEMO_SENDER,
        "DEMO_SLACK_BOT_TOKEN": f"xoxb-demo-{secrets.token_hex(12)}",
        "DEMO_WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "DEMO_PAGERDUTY_ROUTING_KEY": secrets.token_hex(16),  # 32 characters, as PagerDuty's
    }


def _registrations(*, inbox: str) -> list[dict[str, Any]]:
    """Apply registrations.yaml, as `manage.py registrations apply` does (all or nothing)."""
    entries = document_entries(document_load(DOCUMENT.read_bytes()))
    labels = [f"registrations[{i}]" for i in range(len(entries))]
    entries = references_substituted(entries, environ=demo_variables(inbox=inbox), labels=labels)
    registrations_apply(entries=entries, user=None)
    return entries


def _subscriptions(*, aws: Any, inbox: str) -> list[str]:
    """Subscribe each source's SNS topic to the inbox over HTTP (moto then POSTs every
    message published to it there, as SNS does)."""
    made = []
    for where in world.SOURCES:
        arn = world.topic_arn(where.name)
        aws.client("sns", where.account, where.region).subscribe(
            TopicArn=arn, Protocol="http", Endpoint=f"{inbox}/sns/"
        )
        made.append(arn)
    return made


def _push() -> str:
    """`manage.py push_setup --source default`: the product's own command makes the queue,
    the EventBridge rule and its target, and sets the source's queue URL."""
    call_command("push_setup", "--source", "default", stdout=io.StringIO())
    return Source.objects.get(is_default=True).queue_url


def demo_seed(*, aws: Any, base_url: str, password: str, push: bool = True) -> SeedReport:
    """Seed a migrated database for the demo whose web app will answer at `base_url`, in
    `aws` (a started SimulatedAws in which world.world_create has made the world)."""
    inbox = f"{base_url.rstrip('/')}/demo/inbox"
    report = SeedReport()
    report.sources = [s.name for s in _sources()]
    for name in TEAMS:
        Group.objects.get_or_create(name=name)
    report.people = _people()
    _admin(password)
    _registrations(inbox=inbox)
    report.registrations = Registration.objects.count()
    kinds = NotificationSetup.objects.values_list("kind", flat=True)
    report.setups = len(kinds)
    report.kinds = sorted(set(kinds))
    report.subscriptions = _subscriptions(aws=aws, inbox=inbox)
    if push:
        report.queue_url = _push()
    return report
