from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html_join

from channels.registry import load_all
from channels.secrets import mask, secret_field_names
from notifier.events import EVENT_CHOICES
from notifier.ratelimit import RateLimited, rate_limit_take
from registrations import (  # noqa: F401  (register their admins)
    admin_people,
    admin_sources,
    admin_tokens,
)
from registrations.admin_applications import (
    applications_refresh_urls,
    applications_suggest,
    applications_warn,
)
from registrations.admin_publishing import PublishingAdminMixin
from registrations.admin_teams import TeamScopedAdminMixin, admit_team_members, team_scoped_inline
from registrations.models import Registration, setup_count_problem
from registrations.sources import source_default
from registrations.teams import application_name_taken
from registrations.testing import registration_test_send, setup_preview

PREVIEW_PART = '<p>{}:</p><pre style="white-space: pre-wrap; max-width: 60em;">{}</pre>'


class SetupFormSet(BaseInlineFormSet):
    """One kind's setups; RegistrationAdmin gives every kind's formset its `siblings`, so the
    limit on setups per registration counts the setups of every kind together."""

    siblings: list[BaseInlineFormSet] = []

    def setups_kept(self) -> int:
        """The setups this formset leaves, judged from the submitted data alone (so siblings
        not yet cleaned can be counted): existing or filled-in forms not marked for deletion."""
        kept = 0
        for form in self.forms:
            if not (form.instance.pk or form.has_changed()):
                continue  # an extra form left empty is not saved
            if self.can_delete and form["DELETE"].data:
                continue
            kept += 1
        return kept

    def clean(self) -> None:
        super().clean()
        siblings = self.siblings or [self]
        counts = [(formset, formset.setups_kept()) for formset in siblings]
        problem = setup_count_problem(sum(n for _, n in counts))
        first = next((formset for formset, n in counts if n), None)
        if problem and first is self:  # said once, above the first kind that has setups
            raise forms.ValidationError(problem)


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

    formset = SetupFormSet
    extra = 0
    readonly_fields = ("message_preview",)
    setup_fieldsets: list = []

    def get_fieldsets(self, request, obj=None):
        return self.setup_fieldsets

    def get_max_num(self, request, obj=None, **kwargs):
        return settings.NOTIFIER_MAX_SETUPS_PER_REGISTRATION

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


class RegistrationForm(forms.ModelForm):
    user = None  # the signed-in user, set by RegistrationAdmin.get_form
    back_url = ""  # the page the form is on, set by RegistrationAdmin.get_form

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "source" in self.fields:
            default = source_default()
            self.fields["source"].required = False  # left empty: the default source
            self.fields["source"].empty_label = f"{default.name} (the default source)"
            if not self.instance.pk:
                self.initial["source"] = default.pk
        applications_suggest(self, back=self.back_url)

    def clean_codedeploy_application_name(self) -> str:
        return self.cleaned_data["codedeploy_application_name"].strip()

    def clean_source(self):
        return self.cleaned_data.get("source") or source_default()

    def clean(self):
        data = super().clean()
        name, source = data.get("codedeploy_application_name"), data.get("source")
        if name and source:
            taken = application_name_taken(
                name=name,
                user=self.user,
                source=source,
                exclude_pk=self.instance.pk if self.instance else None,
            )
            if taken:
                self.add_error("codedeploy_application_name", taken)
        return data


# Team members sign in to the admin too, and see only their teams' registrations.
admit_team_members(admin.site)


class TestEventActionForm(ActionForm):
    """The action bar: which sample event "Send a test notification" sends."""

    test_event = forms.ChoiceField(
        label="Test event",
        required=False,
        choices=[("", "succeeded (or one the setup hears)")] + EVENT_CHOICES,
        help_text="Used by the test action only.",
    )


@admin.register(Registration)
class RegistrationAdmin(TeamScopedAdminMixin, PublishingAdminMixin, admin.ModelAdmin):
    list_display = (
        "codedeploy_application_name",
        "source",
        "team",
        "enabled",
        "setup_count",
        "updated_at",
        "history_link",
    )
    list_filter = ("enabled", "source", "team", "setups__kind")
    search_fields = ("codedeploy_application_name",)
    form = RegistrationForm
    fields = ("source", "codedeploy_application_name", "team", "enabled", "deployment_groups")
    actions = ["send_test_notification"]
    action_form = TestEventActionForm

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)  # a new class each time
        form.user = request.user
        form.back_url = request.get_full_path()
        return form

    def get_urls(self):
        return applications_refresh_urls(self) + super().get_urls()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        applications_warn(request, name=obj.codedeploy_application_name, source=obj.source)

    def _create_formsets(self, request, obj, change):
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        for formset in formsets:
            formset.siblings = formsets
        return formsets, inline_instances

    def get_inlines(self, request, obj):
        return [team_scoped_inline(_setup_inline(module)) for module in load_all()]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(setup_total=Count("setups"))

    @admin.display(description="Notification setups", ordering="setup_total")
    def setup_count(self, obj) -> int:
        return obj.setup_total

    @admin.action(description="Send a test notification through every setup")
    def send_test_notification(self, request, queryset) -> None:
        registrations = list(queryset)
        limit = settings.NOTIFIER_MANUAL_SENDS_PER_MINUTE
        if len(registrations) > limit:
            self.message_user(
                request,
                f"Nothing was sent: select at most {limit} registrations at a time (each one "
                f"tested counts towards {limit} test notifications a minute per person, "
                "NOTIFIER_MANUAL_SENDS_PER_MINUTE).",
                messages.ERROR,
            )
            return
        try:
            rate_limit_take(user=request.user, action="test", count=len(registrations))
        except RateLimited as exc:
            self.message_user(request, f"Nothing was sent: {exc}.", messages.ERROR)
            return
        event = request.POST.get("test_event") or None
        if event not in {None, *(value for value, _ in EVENT_CHOICES)}:
            self.message_user(request, "Nothing was sent: choose a test event.", messages.ERROR)
            return
        for registration in registrations:
            results = registration_test_send(registration=registration, event=event)
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
