from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html_join

from channels.registry import load_all
from channels.secrets import mask, secret_field_names
from registrations.admin_publishing import PublishingAdminMixin
from registrations.admin_teams import TeamScopedAdminMixin, admit_team_members, team_scoped_inline
from registrations.models import Registration
from registrations.testing import registration_test_send, setup_preview

PREVIEW_PART = '<p>{}:</p><pre style="white-space: pre-wrap; max-width: 60em;">{}</pre>'


class SetupForm(forms.ModelForm):
    """A notification setup in the admin: a new one starts with its kind's default events,
    and secrets are never sent back to the browser (the box stays empty, showing the stored
    value masked; left empty, the stored value is kept). `_setup_inline` subclasses it per
    kind, setting `module` (the channel module) and `secret_names`."""

    module: Any = None
    secret_names: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["events"].initial = list(self.module.DEFAULT_EVENTS)
        for name in self.secret_names:
            self._secret_field_prepare(name)

    def _secret_field_prepare(self, name: str) -> None:
        field = self.fields[name]
        stored = getattr(self.instance, name, "") if self.instance.pk else ""
        # Secrets are never sent back to the browser: the box stays empty.
        attrs = {"autocomplete": "new-password", "placeholder": mask(stored)}
        if getattr(self._meta.model._meta.get_field(name), "multiline", False):
            field.widget = forms.Textarea(attrs={**attrs, "rows": 3, "cols": 60})
            self.initial[name] = ""
        else:
            field.widget = forms.PasswordInput(render_value=False, attrs={**attrs, "size": 60})
        if stored:
            field.required = False
            field.help_text = f"{field.help_text} Stored: {mask(stored)}; leave empty to keep it."

    def clean(self):
        data = super().clean()
        for name in self.secret_names:
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(self.instance, name, "")
        return data


class SetupInline(admin.StackedInline):
    """The setups of one kind under a registration, with a preview of their messages.
    `_setup_inline` subclasses it per kind."""

    extra = 0
    readonly_fields = ("message_preview",)
    setup_fieldsets: list = []

    def get_fieldsets(self, request, obj=None):
        return self.setup_fieldsets

    @admin.display(description="Preview")
    def message_preview(self, obj) -> str:
        if obj is None or not obj.pk:
            return "Save the setup to see its message here."
        try:
            previews = setup_preview(setup=obj)
        except Exception as exc:  # the form is shown again with an unsaved, broken template
            return f"No preview until the template renders: {exc}"
        return format_html_join(
            "",
            '<div class="message-preview"><p><strong>{}</strong></p>{}</div>',
            (
                (preview.title, format_html_join("", PREVIEW_PART, preview.parts.items()))
                for preview in previews
            ),
        )


def _setup_fieldsets(module) -> list:
    template_parts = getattr(module, "TEMPLATE_PARTS", ("subject", "body"))
    message_fields = tuple(f"{part}_template" for part in template_parts)
    return [
        (None, {"fields": (*module.SETUP_FIELDS, "events", "deployment_groups", "enabled")}),
        (
            "Message",
            {
                "fields": (*message_fields, "message_preview"),
                "description": "Leave the templates empty for the default message. A template "
                "that does not render is refused with its line and the reason.",
            },
        ),
    ]


def _setup_inline(module) -> type[admin.StackedInline]:
    """The admin inline for the setups of the channel `module`'s kind."""
    form = type(
        "SetupForm",
        (SetupForm,),
        {"module": module, "secret_names": tuple(secret_field_names(module.SETUP_MODEL))},
    )
    return type(
        f"{module.SETUP_MODEL.__name__}Inline",
        (SetupInline,),
        {
            "model": module.SETUP_MODEL,
            "form": form,
            "verbose_name": module.LABEL,
            "verbose_name_plural": f"{module.LABEL}s",
            "setup_fieldsets": _setup_fieldsets(module),
        },
    )


# Team members sign in to the admin too, and see only their teams' registrations.
admit_team_members(admin.site)


@admin.register(Registration)
class RegistrationAdmin(TeamScopedAdminMixin, PublishingAdminMixin, admin.ModelAdmin):
    list_display = (
        "codedeploy_application_name",
        "team",
        "enabled",
        "setup_count",
        "updated_at",
        "history_link",
    )
    list_filter = ("enabled", "team", "setups__kind")
    search_fields = ("codedeploy_application_name",)
    fields = ("codedeploy_application_name", "team", "enabled", "deployment_groups")
    actions = ["send_test_notification"]

    def get_inlines(self, request, obj):
        return [team_scoped_inline(_setup_inline(module)) for module in load_all()]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(setup_total=Count("setups"))

    @admin.display(description="Notification setups", ordering="setup_total")
    def setup_count(self, obj) -> int:
        return obj.setup_total

    @admin.action(description="Send a test notification through every setup")
    def send_test_notification(self, request, queryset) -> None:
        for registration in queryset:
            results = registration_test_send(registration=registration)
            if not results:
                self.message_user(
                    request,
                    f"{registration} has no notification setups to test.",
                    messages.WARNING,
                )
            for result in results:
                self.message_user(
                    request,
                    f"{registration}: {result.sentence()}",
                    messages.SUCCESS if result.delivered else messages.ERROR,
                )
