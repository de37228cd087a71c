"""Team scoping for the admin: members of a team see and change only their team's
registrations; staff see and change all. Also the links from the admin to the history pages.

Team members need not be staff: `admit_team_members(site)` lets any active user who belongs
to a team (a Django group) sign in to the admin, where the registration pages are all they
can reach (every other model keeps Django's own permission checks).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from registrations import teams


def team_member_or_staff(user) -> bool:
    return bool(user.is_active and (user.is_staff or user.groups.exists()))


class TeamAdminAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": "Enter the username and password of a staff account or of a team "
        "member. Both fields may be case-sensitive.",
    }

    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)  # active accounts only
        if not team_member_or_staff(user):
            raise forms.ValidationError(
                "This account belongs to no team, so it has nothing to change here: ask an "
                "administrator to add it to its team's group. It can still read the history.",
                code="invalid_login",
            )


def admit_team_members(site: admin.AdminSite) -> None:
    """Let team members (not only staff) sign in to `site`."""
    site.has_permission = lambda request: team_member_or_staff(request.user)
    site.login_form = TeamAdminAuthenticationForm


def team_choice_error(user) -> str:
    names = ", ".join(g.name for g in teams.user_teams(user=user)) or "none"
    return f"choose one of your teams ({names}); ask staff to move a registration between teams"


class TeamScopedAdminMixin:
    """For RegistrationAdmin: rows, permissions and the team menu follow the user's teams."""

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if teams.user_edits_every_team(request.user):
            return rows
        return rows.filter(team__in=request.user.groups.all())

    def _may(self, request, obj=None) -> bool:
        if teams.user_edits_every_team(request.user):
            return True
        if not team_member_or_staff(request.user):
            return False
        return obj is None or teams.registration_editable(user=request.user, registration=obj)

    def has_module_permission(self, request):
        return self._may(request)

    def has_view_permission(self, request, obj=None):
        return self._may(request, obj)

    def has_add_permission(self, request):
        return self._may(request)

    def has_change_permission(self, request, obj=None):
        return self._may(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team" and not teams.user_edits_every_team(request.user):
            kwargs["queryset"] = teams.user_teams(user=request.user)
            kwargs["required"] = True
            kwargs["error_messages"] = {
                "invalid_choice": team_choice_error(request.user),
                "required": "choose the team that owns this registration",
            }
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- links to the history pages -------------------------------------------------------
    def view_on_site(self, obj):
        """The admin's "View on site" button opens the application's history page."""
        return _history_url(obj)

    @admin.display(description="History")
    def history_link(self, obj) -> str:
        url = _history_url(obj)
        if url is None:
            return "-"
        return format_html('<a href="{}">Deployments of {}</a>', url, obj)


def _history_url(obj) -> str | None:
    """None for a name stored before names were checked (e.g. with a /): no page has it."""
    try:
        return reverse("application-detail", args=[obj.codedeploy_application_name])
    except NoReverseMatch:
        return None


def team_scoped_inline(inline: type[admin.options.InlineModelAdmin]):
    """`inline` (a setup inline) with the parent registration's team permissions."""

    class TeamScopedInline(inline):
        def _may(self, request, obj=None) -> bool:
            if teams.user_edits_every_team(request.user):
                return True
            if not team_member_or_staff(request.user):
                return False
            return obj is None or teams.registration_editable(user=request.user, registration=obj)

        def has_view_permission(self, request, obj=None):
            return self._may(request, obj)

        def has_add_permission(self, request, obj=None):
            return self._may(request, obj)

        def has_change_permission(self, request, obj=None):
            return self._may(request, obj)

        def has_delete_permission(self, request, obj=None):
            return self._may(request, obj)

    TeamScopedInline.__name__ = inline.__name__
    TeamScopedInline.__qualname__ = inline.__qualname__
    return TeamScopedInline
