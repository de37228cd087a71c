"""Writes to registrations: create, update, delete, and the DynamoDB copy of each.

The REST API (registrations/api.py), the admin (registrations/admin_publishing.py) and the
engine's library API (notifier/library.py) all save through these functions, so a
registration is saved the same way whoever saves it. Each runs in one database transaction
that ends, after every Django change (the registration and all its setups), with ONE
DynamoDB write of the registration's final document when NOTIFIER_STORAGE=dynamodb. If
DynamoDB refuses it, RegistrationStoreError is raised, the transaction rolls back and
nothing is half-saved on either side. (Model signals were not used: they fire once per row,
so a refusal halfway through would leave DynamoDB holding a document the rolled-back request
never finished.)

The document is the REST API's own output for the registration
(registrations.serializers.registration_document), which leaves out write-only fields, so
secrets never reach DynamoDB.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from channels.registry import api_key, module_for
from registrations.models import (
    NotificationSetup,
    Registration,
    application_name_problem,
    setup_count_problem,
)
from registrations.sources import Source, source_default
from registrations.storage import (
    RegistrationTable,
    registration_document_put,
    registration_documents_delete,
    registration_item,
    registration_key,
    registration_table,
)

# One notification setup to save: its kind ("newrelic") and its fields; an "id" among the
# fields updates that setup of the registration instead of adding one.
SetupData = tuple[str, dict[str, Any]]


class SetupsInvalid(Exception):
    """Some setups did not validate; nothing was saved. `errors` has one entry per setup
    given, in order: {} for a valid one, {"<kind>_notification": {field: [messages]}}."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e) for e in errors if e))
        self.errors = errors


def _django_errors(exc: ValidationError) -> Any:
    if hasattr(exc, "error_dict"):
        return {
            name: [m for e in errors for m in e.messages] for name, errors in exc.error_dict.items()
        }
    return exc.messages


def _setups_save(*, registration: Registration, setups: list[SetupData], replace: bool) -> None:
    keep: set[int] = set()
    errors, failed = [], False
    for kind, fields in setups:
        model = module_for(kind).SETUP_MODEL
        fields = dict(fields)
        setup_id = fields.pop("id", None)
        if setup_id is not None:
            setup = model.objects.filter(pk=setup_id, registration=registration).first()
            if setup is None:  # same id, other kind: replace it
                NotificationSetup.objects.filter(pk=setup_id).delete()
                setup = model(registration=registration)
        else:
            setup = model(registration=registration)
        for name, value in fields.items():
            setattr(setup, name, value)
        if not setup.events:
            setup.events = list(module_for(kind).DEFAULT_EVENTS)
        try:
            setup.full_clean(exclude=["registration"])
        except ValidationError as exc:
            errors.append({api_key(kind): _django_errors(exc)})
            failed = True
            continue
        errors.append({})
        setup.save()
        keep.add(setup.pk)
    if failed:
        # Raised inside the atomic block: nothing of this call is kept.
        raise SetupsInvalid(errors)
    if replace:
        registration.setups.exclude(pk__in=keep).delete()
    # A prefetched list of setups (the API's queryset) is out of date now.
    getattr(registration, "_prefetched_objects_cache", {}).pop("setups", None)


def _registration_document(*, registration: Registration) -> dict[str, Any]:
    # Imported here, not at the top, for memory only (no cycle: the serializers never
    # import this module). They bring in Django REST framework's serializers,
    # drf-spectacular and, through DRF's optional PostgreSQL fields, psycopg: ~16 MB that
    # every process loading the admin (all of the cluster's, run_service) would carry,
    # while only the web app and the sync command write documents. docs/performance.md.
    from registrations.serializers import registration_document

    return registration_document(registration=registration)


def _limits_check(*, name: str | None, setups: list[SetupData]) -> None:
    """The same limits the API and the admin say first, for every other caller (the
    library): a name CodeDeploy allows, at most NOTIFIER_MAX_SETUPS_PER_REGISTRATION setups."""
    errors = {}
    if name is not None and (problem := application_name_problem(name)):
        errors["codedeploy_application_name"] = problem
    if problem := setup_count_problem(len(setups)):
        errors["notifications"] = problem
    if errors:
        raise ValidationError(errors)


def registration_stored_key(*, source: Source, application: str) -> str:
    """The registration's key in DynamoDB (registrations.storage.registration_key)."""
    return registration_key(
        source=source.name, application=application, is_default=source.is_default
    )


def registration_publish(*, registration: Registration, previous_key: str = "") -> None:
    """Write the registration's document to DynamoDB (removing `previous_key`'s item after a
    rename or a move to another source); RegistrationStoreError if refused. No-op unless
    NOTIFIER_STORAGE=dynamodb. Call it inside the transaction that saved the registration."""
    if registration_table() is None:
        return
    registration_document_put(
        document=_registration_document(registration=registration),
        key=registration_stored_key(
            source=registration.source, application=registration.codedeploy_application_name
        ),
        previous_key=previous_key,
    )


@transaction.atomic
def registration_create(
    *,
    codedeploy_application_name: str,
    setups: list[SetupData],
    team: Group | None = None,
    enabled: bool = True,
    deployment_groups: str = "",
    source: Source | None = None,
) -> Registration:
    """Register an application of `source` (default: the default source) with its
    notification setups (SetupsInvalid if any setup is invalid, ValidationError for a name
    CodeDeploy refuses or too many setups; nothing is saved then)."""
    _limits_check(name=codedeploy_application_name, setups=setups)
    registration = Registration.objects.create(
        source=source or source_default(),
        codedeploy_application_name=codedeploy_application_name,
        team=team,
        enabled=enabled,
        deployment_groups=deployment_groups,
    )
    _setups_save(registration=registration, setups=setups, replace=False)
    registration_publish(registration=registration)
    return registration


@transaction.atomic
def registration_update(
    *,
    registration: Registration,
    fields: dict[str, Any],
    setups: list[SetupData] | None = None,
) -> Registration:
    """Change the registration's own fields, and when `setups` is given, replace its setups
    with them (a setup's "id" keeps and updates that setup)."""
    if setups is not None:
        _limits_check(name=None, setups=setups)
    previous_key = registration_stored_key(
        source=registration.source, application=registration.codedeploy_application_name
    )
    for name, value in fields.items():
        setattr(registration, name, value)
    registration.full_clean(exclude=["team"])
    registration.save()
    if setups is not None:
        _setups_save(registration=registration, setups=setups, replace=True)
    registration_publish(registration=registration, previous_key=previous_key)
    return registration


@transaction.atomic
def registration_delete(*, registrations: Iterable[Registration]) -> int:
    """Delete these registrations with their setups, and their DynamoDB documents, all or
    none. Returns how many were deleted."""
    rows = list(registrations)
    keys = [
        registration_stored_key(source=r.source, application=r.codedeploy_application_name)
        for r in rows
    ]
    Registration.objects.filter(pk__in=[r.pk for r in rows]).delete()
    registration_documents_delete(keys=keys)
    return len(rows)


# --- the sync command ----------------------------------------------------------------------


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # name -> fields that differed
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def lines(self) -> list[str]:
        out = [f"added {name} (missing from DynamoDB)" for name in self.added]
        out += [
            f"updated {name} (differed in {', '.join(fields)})"
            for name, fields in self.updated.items()
        ]
        out += [f"removed {name} (no such registration here)" for name in self.removed]
        out.append(
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} "
            f"removed, {self.unchanged} already the same"
        )
        return out


def registrations_sync(*, dry_run: bool = False) -> SyncReport:
    """Make the registrations table hold exactly the registrations here, and say what
    differed. With dry_run, only compare."""
    table = RegistrationTable()  # the command names DynamoDB's table, whatever the store
    stored = table.documents()
    report = SyncReport()
    for registration in Registration.objects.select_related("source").prefetch_related("setups"):
        name = registration_stored_key(
            source=registration.source, application=registration.codedeploy_application_name
        )
        document = registration_item(_registration_document(registration=registration), key=name)
        before = stored.pop(name, None)
        if before is None:
            report.added.append(name)
        elif before != document:
            keys = sorted(set(before) | set(document))
            report.updated[name] = [k for k in keys if before.get(k) != document.get(k)]
        else:
            report.unchanged += 1
            continue
        if not dry_run:
            table.put(document)
    for name in sorted(stored):
        report.removed.append(name)
        if not dry_run:
            table.delete(name)
    return report
