"""The People admin: who a deployment's IAM principal is (staff only)."""

from __future__ import annotations

from django.contrib import admin

from registrations.people import PRECEDENCE_HELP, DeploymentPrincipal, Person, PersonRule


class PersonRuleInline(admin.TabularInline):
    model = PersonRule
    extra = 1
    fields = ("kind", "pattern", "priority")


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "slack_user_id", "rule_list")
    search_fields = ("name", "email", "rules__pattern")
    inlines = [PersonRuleInline]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "subtitle": PRECEDENCE_HELP}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="Rules")
    def rule_list(self, person: Person) -> str:
        return "; ".join(str(rule) for rule in person.rules.all()) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rules")


@admin.register(DeploymentPrincipal)
class DeploymentPrincipalAdmin(admin.ModelAdmin):
    """What CloudTrail said about each deployment: read only."""

    list_display = ("deployment_id", "source", "create_time", "arn", "lookups")
    search_fields = ("deployment_id",)
    list_filter = ("source",)

    @admin.display(description="Principal")
    def arn(self, row: DeploymentPrincipal) -> str:
        return (row.principal or {}).get("arn") or "not found yet"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
