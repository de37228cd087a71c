"""Sources: the AWS accounts and regions the service watches, and the default one.

A Source is a name, a region, and how to get credentials: the service's own (the default
source, which exists from the first migration on, so a service with one account needs
nothing new) or a role assumed through STS (notifier.sources builds the session). The
account id is learned with GetCallerIdentity by `source_identity_check`.
"""

from __future__ import annotations

import os
import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from notifier.sources import SourceConfig, SourceError, source_account_id

DEFAULT_SOURCE_NAME = "default"
# Region names as AWS spells them: us-east-1, eu-central-2, us-gov-west-1, cn-north-1.
REGION_SHAPE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
ROLE_ARN_SHAPE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
NAME_SHAPE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# sts:AssumeRole's ExternalId: 2-1224 characters of letters, digits and +=,.@:/-
EXTERNAL_ID_SHAPE = re.compile(r"[\w+=,.@:/-]{2,1224}")
# An SQS queue URL: https://sqs.<region>.amazonaws.com/<account>/<name> (or an endpoint's own
# host, e.g. a VPC endpoint), the path always /<12-digit account>/<queue name>.
QUEUE_URL_SHAPE = re.compile(r"https?://[\w.:-]{1,255}/\d{12}/[\w-]{1,80}(\.fifo)?")


def source_problems(
    *,
    name: str,
    region: str,
    credentials: str,
    role_arn: str,
    external_id: str,
    is_default: bool,
    queue_url: str = "",
) -> dict[str, str]:
    """Field -> what is wrong and what to do, for every field of a source that is wrong. The
    admin form, the API and the model all call this, so they never disagree."""
    errors: dict[str, str] = {}
    if not NAME_SHAPE.fullmatch(name or ""):
        errors["name"] = (
            "name must be 1-63 lowercase letters, digits and hyphens, starting and ending "
            "with a letter or digit, e.g. prod-eu"
        )
    if region and not REGION_SHAPE.fullmatch(region):
        errors["region"] = (
            f"region {region[:40]!r} is not an AWS region name; give one like us-east-1 or "
            "eu-west-2 (or leave it empty for the service's own AWS_REGION)"
        )
    if credentials == Source.ROLE:
        if is_default:
            errors["credentials"] = (
                "the default source always uses the service's own credentials; add another "
                "source to assume a role"
            )
        elif not role_arn:
            errors["role_arn"] = (
                "role_arn is required when credentials is 'role': give the ARN of the role to "
                "assume, e.g. arn:aws:iam::210987654321:role/codedeploy-notifier"
            )
        elif not ROLE_ARN_SHAPE.fullmatch(role_arn):
            errors["role_arn"] = (
                "role_arn must be an IAM role ARN like "
                "arn:aws:iam::210987654321:role/codedeploy-notifier (12-digit account id)"
            )
        if external_id and not EXTERNAL_ID_SHAPE.fullmatch(external_id):
            errors["external_id"] = (
                "external_id must be 2-1224 letters, digits or + = , . @ : / - characters "
                "(STS's limit)"
            )
    elif role_arn or external_id:
        errors["credentials"] = (
            "a role_arn or external_id is given but credentials is 'own': choose 'role' to "
            "assume the role, or leave both empty"
        )
    if queue_url and not QUEUE_URL_SHAPE.fullmatch(queue_url):
        errors["queue_url"] = (
            "queue_url must be an SQS queue URL like "
            "https://sqs.eu-west-1.amazonaws.com/210987654321/codedeploy-events (12-digit "
            "account id, then the queue's name); leave it empty to poll only"
        )
    return errors


class Source(models.Model):
    OWN = "own"
    ROLE = "role"
    CREDENTIAL_CHOICES = [
        (OWN, "The service's own credentials (boto3's chain)"),
        (ROLE, "Assume a role in the watched account (STS AssumeRole)"),
    ]

    name = models.CharField(
        max_length=63,
        unique=True,
        help_text="A short name for this account and region, e.g. prod-eu; registrations "
        'name it ("source": "prod-eu"). It cannot be changed later.',
        error_messages={"unique": "A source with this name exists already; choose another."},
    )
    region = models.CharField(
        max_length=32,
        blank=True,
        help_text="The AWS region to watch, e.g. eu-west-1. Empty: the service's own AWS_REGION.",
    )
    credentials = models.CharField(
        max_length=8,
        choices=CREDENTIAL_CHOICES,
        default=OWN,
        help_text="'own': the credentials the service runs with (the default source). 'role': "
        "the service assumes role_arn in the watched account; create that role with "
        "docs/source-role.json.",
    )
    role_arn = models.CharField(
        "role ARN",
        max_length=2048,
        blank=True,
        help_text="The role to assume, e.g. arn:aws:iam::210987654321:role/codedeploy-notifier.",
    )
    external_id = models.CharField(
        "external id",
        max_length=1224,
        blank=True,
        help_text="Optional: the sts:ExternalId the role's trust policy requires. Never shown "
        "again once saved (only whether one is set); leave empty to keep it.",
    )
    queue_url = models.CharField(
        "push queue URL",
        max_length=512,
        blank=True,
        help_text="Optional: the SQS queue an EventBridge rule puts this source's CodeDeploy "
        "events on (python manage.py push_setup --source NAME makes both; docs/push.md). "
        "With a queue, notifications go out within a second of each event and polling only "
        "reconciles, every NOTIFIER_RECONCILE_INTERVAL seconds. Empty: polling alone.",
    )
    account_id = models.CharField(max_length=12, blank=True, editable=False)
    enabled = models.BooleanField(
        default=True, help_text="Untick to stop notifications for this source's registrations."
    )
    is_default = models.BooleanField(default=False, editable=False)
    last_checked = models.DateTimeField(null=True, blank=True, editable=False)
    check_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        problems = source_problems(
            name=self.name,
            region=self.region,
            credentials=self.credentials,
            role_arn=self.role_arn,
            external_id=self.external_id,
            is_default=self.is_default,
            queue_url=self.queue_url,
        )
        if problems:
            raise ValidationError(problems)

    def config(self) -> SourceConfig:
        """This source as the engine takes it."""
        role = self.credentials == self.ROLE
        return SourceConfig(
            name=self.name,
            region=self.region,
            role_arn=self.role_arn if role else "",
            external_id=self.external_id if role else "",
            queue_url=self.queue_url,
            account_id=self.account_id,
        )


def _default_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""


def source_region(*, source: Source) -> str:
    """The region the source watches: its own, or the service's AWS_REGION when empty."""
    return source.region or _default_region()


def source_default() -> Source:
    """The default source (own credentials), created when missing (a fresh or flushed
    database): it always exists, so the original registration request needs no source."""
    found = Source.objects.filter(is_default=True).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Source.objects.create(
                name=DEFAULT_SOURCE_NAME, region=_default_region(), is_default=True
            )
    except IntegrityError:  # created at the same moment by another process
        return Source.objects.get(is_default=True)


def source_default_pk() -> int:
    """Registration.source's default: the default source's id. It reads the id alone, so a
    migration that evaluates this default before a later column exists still works."""
    found = Source.objects.filter(is_default=True).values_list("pk", flat=True).first()
    return found if found is not None else source_default().pk


def source_identity_check(*, source: Source) -> Source:
    """Ask STS which account the source acts in; store the account id, or the error in
    words (the source is kept either way: a role whose trust policy is not there yet is a
    step of setting it up, not a mistake to refuse)."""
    try:
        source.account_id = source_account_id(source.config())
        source.check_error = ""
    except SourceError as exc:
        source.check_error = str(exc)
    source.last_checked = timezone.now()
    Source.objects.filter(pk=source.pk).update(
        account_id=source.account_id,
        check_error=source.check_error,
        last_checked=source.last_checked,
    )
    return source


SOURCE_FIELDS = (
    "name",
    "region",
    "credentials",
    "role_arn",
    "external_id",
    "queue_url",
    "enabled",
)


def source_save(*, source: Source | None = None, fields: dict) -> Source:
    """Create a source (`source` None) or change one, then check its identity. ValidationError
    (field-keyed, in words) when a field is wrong; nothing is saved then. A role that cannot
    be assumed is saved, with the reason in `check_error`."""
    creating = source is None
    source = source or Source()
    if not creating and "name" in fields and fields["name"] != source.name:
        raise ValidationError(
            {
                "name": "a source's name cannot be changed: registrations' stored documents "
                "name it; add a new source instead"
            }
        )
    for name, value in fields.items():
        if name not in SOURCE_FIELDS:
            raise TypeError(f"source_save() got an unknown field {name!r}")
        setattr(source, name, value)
    if source.credentials == Source.OWN:  # switched to own: the role's settings not given go
        for name in ("role_arn", "external_id"):
            if name not in fields:
                setattr(source, name, "")
    source.full_clean()
    source.save()
    return source_identity_check(source=source)


class SourceInUse(Exception):
    """The source cannot be deleted; the message says why and what to do."""


def source_delete(*, source: Source) -> None:
    """Delete a source with no registrations; never the default one."""
    if source.is_default:
        raise SourceInUse(
            "the default source cannot be deleted: it is the service's own account; "
            "disable it instead"
        )
    count = source.registrations.count()
    if count:
        raise SourceInUse(
            f"source {source.name!r} still has {count} registration(s): delete them or move "
            "them to another source first"
        )
    source.delete()
