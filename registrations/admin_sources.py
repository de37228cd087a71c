"""The Sources admin: the AWS accounts and regions the service watches (staff only)."""

from __future__ import annotations

from contextvars import ContextVar

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from channels.secrets import mask
from notifier import storage
from notifier.push_health import push_status
from notifier.storage.base import StorageError
from notifier.storage.history_rows import PushQueueStats
from registrations.sources import (
    SOURCE_FIELDS,
    Source,
    SourceInUse,
    source_delete,
    source_identity_check,
)

HELP = (
    "A source is an AWS account and region the service watches. <b>Own credentials</b>: the "
    "credentials the service runs with (the default source uses them). <b>Role</b>: in the "
    "watched account, create the role in <code>docs/source-role.json</code> (its trust "
    "policy lets this service's principal call sts:AssumeRole, with your external id as a "
    "condition; <code>docs/source-role.md</code> explains each part), then give its ARN here. "
    "Saving checks which account the source acts in. Every enabled source is polled on its "
    "own; give it a push queue for notifications within a second of each event."
)


class SourceForm(forms.ModelForm):
    """The external id is never sent back to the browser: left empty, the stored one is
    kept."""

    class Meta:
        model = Source
        fields = SOURCE_FIELDS  # what source_save takes: the admin and the API agree
        widgets = {"external_id": forms.PasswordInput(render_value=False)}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.external_id if self.instance.pk else ""
        field = self.fields["external_id"]
        field.widget.attrs.update({"autocomplete": "off", "placeholder": mask(stored)})
        if stored:
            field.help_text = f"{field.help_text} Stored: {mask(stored)}."

    def clean_external_id(self) -> str:
        return self.cleaned_data.get("external_id") or (
            self.instance.external_id if self.instance.pk else ""
        )

    def clean(self):
        data = super().clean()
        if data.get("credentials") == Source.OWN:  # the hidden stored id goes with the role
            data["external_id"] = ""
        return data


# Each push queue's stats, read once per admin page (list_display columns see only the row).
_push_stats: ContextVar[dict[str, PushQueueStats] | None] = ContextVar("push_stats", default=None)


def _push_stats_read() -> dict[str, PushQueueStats] | str:
    """Stats by queue URL, or the storage error in words."""
    try:
        return {s.queue_url: s for s in storage.get_store().push_stats_list()}
    except StorageError as exc:
        return f"could not read the push queues' stats: {exc}"


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = (
        "name",
        "region",
        "credentials",
        "account_id",
        "enabled",
        "check_status",
        "push_column",
    )
    list_filter = ("enabled", "credentials")
    readonly_fields = ("account_id", "is_default", "last_checked", "check_status", "push_column")
    actions = ["check_now"]
    fieldsets = [
        (None, {"fields": ("name", "region", "enabled"), "description": HELP}),
        ("Credentials", {"fields": ("credentials", "role_arn", "external_id")}),
        ("Push (EventBridge to SQS)", {"fields": ("queue_url", "push_column")}),
        (
            "Identity check",
            {"fields": ("account_id", "is_default", "last_checked", "check_status")},
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return ("name", *self.readonly_fields) if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_default:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="Check")
    def check_status(self, obj) -> str:
        if obj is None or obj.last_checked is None:
            return "not checked yet"
        if obj.check_error:
            return format_html('<span class="errornote">{}</span>', obj.check_error)
        return f"OK: account {obj.account_id}"

    @admin.display(description="Push")
    def push_column(self, obj) -> str:
        if obj is None or not obj.queue_url:
            return "no queue"
        stats = _push_stats.get()
        if stats is None:  # a page that did not read them first
            stats = _push_stats_read()
        if isinstance(stats, str):
            return format_html('<span class="errornote">{}</span>', stats)
        status = push_status(
            queue_url=obj.queue_url, stats=stats.get(obj.queue_url), now=timezone.now()
        )
        if status.receiving:
            return status.text
        return format_html('<span class="errornote">{}</span>', status.text)

    def changelist_view(self, request, extra_context=None):
        token = _push_stats.set(_push_stats_read())
        try:
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render"):  # render now, while the stats are set
                response.render()
            return response
        finally:
            _push_stats.reset(token)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        self._check_report(request, source_identity_check(source=obj))

    def _check_report(self, request, source: Source) -> None:
        if source.check_error:
            self.message_user(request, source.check_error, messages.ERROR)
        else:
            self.message_user(
                request,
                f"source {source.name!r} acts in account {source.account_id}",
                messages.SUCCESS,
            )

    @admin.action(description="Check now: which account each source acts in")
    def check_now(self, request, queryset) -> None:
        for source in queryset:
            self._check_report(request, source_identity_check(source=source))

    def delete_model(self, request, obj) -> None:
        source_delete(source=obj)

    def delete_queryset(self, request, queryset) -> None:
        for source in queryset:
            try:
                source_delete(source=source)
            except SourceInUse as exc:
                self.message_user(request, f"{source.name} was kept: {exc}", messages.ERROR)
