"""RegistrationAdmin's part in saving: the DynamoDB copy of each registration, through
registrations.services, inside the admin's transaction; a refusal is shown as an error."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect

from registrations.services import (
    registration_delete,
    registration_publish,
    registration_stored_key,
)
from registrations.sources import Source
from registrations.storage import RegistrationStoreError


class PublishingAdminMixin:
    """Publish after the form and every inline are saved, inside the admin's transaction,
    and show DynamoDB's refusal as an error message."""

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        previous = ""
        if change:  # the key the registration had before this save
            source = Source.objects.filter(pk=form.initial.get("source")).first()
            name = form.initial.get("codedeploy_application_name", "")
            previous = registration_stored_key(source=source, application=name) if source else ""
        registration_publish(registration=form.instance, previous_key=previous)

    def delete_model(self, request, obj) -> None:
        registration_delete(registrations=[obj])

    def delete_queryset(self, request, queryset) -> None:
        # The changelist's bulk delete is not wrapped in a transaction by the admin.
        with transaction.atomic():
            registration_delete(registrations=queryset)

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
