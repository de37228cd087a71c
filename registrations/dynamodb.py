"""Registrations persisted in DynamoDB too, as the original service kept them.

With NOTIFIER_STORAGE=dynamodb every create, update and delete of a registration through
the admin or the API ends, inside the same database transaction and after every Django
change of the request (the registration and all its setups), with ONE DynamoDB write of the
registration's final document: `registration_publish` / `registration_unpublish`. If
DynamoDB refuses it they raise RegistrationStoreError, the transaction rolls back and the
request fails with that error: never half-saved on either side. (Model signals were not
used: they fire once per row, so a refusal halfway through a request would leave DynamoDB
holding a document the rolled-back request never finished.)

The document is the REST API's own output for the registration (`RegistrationSerializer`),
which leaves out write-only fields, so secrets never reach DynamoDB:
`{"codedeploy_application_name": "...", "notifications": [{"<kind>_notification": {...}}],
...}`. `registrations_sync` (manage.py dynamodb_sync_registrations) re-pushes them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect

from notifier.storage.base import StorageError
from registrations.models import Registration


class RegistrationStoreError(Exception):
    """DynamoDB refused a registration write; the Django change was rolled back."""


def enabled() -> bool:
    return settings.NOTIFIER_STORAGE == "dynamodb"


def _store():
    from notifier.storage.dynamodb import DynamoStore

    return DynamoStore()


def registration_document(*, registration: Registration) -> dict[str, Any]:
    """The registration as the REST API shows it (write-only fields, i.e. secrets, left out),
    as plain JSON values."""
    from registrations.serializers import RegistrationSerializer

    return json.loads(json.dumps(RegistrationSerializer(registration).data))


def registration_publish(*, registration: Registration, previous_name: str = "") -> None:
    """Write the registration's document to DynamoDB (and, when it was renamed, remove the
    old name's, in the same DynamoDB transaction); RegistrationStoreError if refused.
    No-op unless NOTIFIER_STORAGE=dynamodb. Call it inside the request's transaction."""
    if not enabled():
        return
    document = registration_document(registration=registration)
    renamed = previous_name if previous_name != registration.codedeploy_application_name else ""
    try:
        _store().registration_put(document, replacing=renamed)
    except StorageError as exc:
        raise RegistrationStoreError(
            f"{registration.codedeploy_application_name!r} was not saved: DynamoDB refused "
            f"to store the registration, so nothing was changed. Try again in a moment. ({exc})"
        ) from exc


def registration_unpublish(*, applications: list[str]) -> None:
    """Remove these registrations' documents from DynamoDB, all or none;
    RegistrationStoreError if refused. No-op unless NOTIFIER_STORAGE=dynamodb. Call it
    inside the request's transaction."""
    if not enabled() or not applications:
        return
    try:
        _store().registration_delete(*applications)
    except StorageError as exc:
        names = ", ".join(map(repr, applications))
        raise RegistrationStoreError(
            f"{names} not deleted: DynamoDB refused to remove the registration, so nothing "
            f"was changed. Try again in a moment. ({exc})"
        ) from exc


class PublishingAdminMixin:
    """RegistrationAdmin's part: publish after the form and every inline are saved, inside
    the admin's transaction, and show DynamoDB's refusal as an error message."""

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        previous = form.initial.get("codedeploy_application_name", "") if change else ""
        registration_publish(registration=form.instance, previous_name=previous)

    def delete_model(self, request, obj) -> None:
        name = obj.codedeploy_application_name
        super().delete_model(request, obj)
        registration_unpublish(applications=[name])

    def delete_queryset(self, request, queryset) -> None:
        # The changelist's bulk delete is not wrapped in a transaction by the admin.
        with transaction.atomic():
            names = list(queryset.values_list("codedeploy_application_name", flat=True))
            super().delete_queryset(request, queryset)
            registration_unpublish(applications=names)

    def _refused(self, request, exc: RegistrationStoreError) -> HttpResponseRedirect:
        self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except RegistrationStoreError as exc:
            return self._refused(request, exc)

    def delete_view(self, request, *args, **kwargs):
        try:
            return super().delete_view(request, *args, **kwargs)
        except RegistrationStoreError as exc:
            return self._refused(request, exc)

    def changelist_view(self, request, *args, **kwargs):
        try:
            return super().changelist_view(request, *args, **kwargs)
        except RegistrationStoreError as exc:
            return self._refused(request, exc)


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
    store = _store()
    stored = store.registration_documents()
    report = SyncReport()
    for registration in Registration.objects.prefetch_related("setups"):
        name = registration.codedeploy_application_name
        document = registration_document(registration=registration)
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
            store.registration_put(document)
    for name in sorted(stored):
        report.removed.append(name)
        if not dry_run:
            store.registration_delete(name)
    return report
