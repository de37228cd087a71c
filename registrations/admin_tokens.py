"""The admin's API tokens: owner, name, the first characters, created, last used; revoke.

Never the token (only its hash is stored) and never the hash. Tokens are made on /tokens/ or
with `manage.py token_create`, where the token can be shown once. DRF's own Token admin, which
lists tokens in plain text, is taken out.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin, messages

from registrations.tokens import ApiToken, tokens_revoke

if apps.is_installed("rest_framework.authtoken"):
    import rest_framework.authtoken.admin  # noqa: F401  (registers TokenProxy first)
    from rest_framework.authtoken.models import TokenProxy

    if admin.site.is_registered(TokenProxy):
        admin.site.unregister(TokenProxy)


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "active"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at=None)
        if self.value() == "revoked":
            return queryset.exclude(revoked_at=None)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "shown", "created_at", "last_used_at", "revoked_at"]
    list_filter = [ActiveFilter]
    search_fields = ["name", "user__username", "prefix"]
    fields = ["user", "name", "shown", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]
    list_select_related = ["user"]

    @admin.display(description="token")
    def shown(self, token: ApiToken) -> str:
        return token.shown

    def has_add_permission(self, request) -> bool:
        return False  # made on /tokens/ or by `manage.py token_create`, where it is shown once

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["delete"])
    def revoke(self, request, queryset):
        count = tokens_revoke(queryset)
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
