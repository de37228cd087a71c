from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count

from channels.registry import load_all
from registrations.models import Registration


def _setup_inline(module) -> type[admin.StackedInline]:
    class SetupForm(forms.ModelForm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if not self.instance.pk:
                self.fields["events"].initial = list(module.DEFAULT_EVENTS)

    class SetupInline(admin.StackedInline):
        model = module.SETUP_MODEL
        form = SetupForm
        extra = 0
        fields = (*module.SETUP_FIELDS, "events", "deployment_groups", "enabled")
        verbose_name = module.LABEL
        verbose_name_plural = f"{module.LABEL}s"

    SetupInline.__name__ = f"{module.SETUP_MODEL.__name__}Inline"
    return SetupInline


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = ("codedeploy_application_name", "team", "enabled", "setup_count", "updated_at")
    list_filter = ("enabled", "team", "setups__kind")
    search_fields = ("codedeploy_application_name",)
    fields = ("codedeploy_application_name", "team", "enabled", "deployment_groups")

    def get_inlines(self, request, obj):
        return [_setup_inline(module) for module in load_all()]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(setup_total=Count("setups"))

    @admin.display(description="Notification setups", ordering="setup_total")
    def setup_count(self, obj) -> int:
        return obj.setup_total
