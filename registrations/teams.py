"""Who may change a registration: its team's members, and staff.

Everyone signed in reads all history; changing a registration, or resending one of its
notifications, is for the members of the team (a Django group) that owns it, and for staff.
The admin, the REST API and the history pages all ask these functions, so they agree.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import QuerySet

from registrations.models import Registration


def user_edits_every_team(user) -> bool:
    return bool(user.is_active and (user.is_staff or user.is_superuser))


def user_teams(*, user) -> QuerySet[Group]:
    """The teams `user` belongs to (every team for staff)."""
    if user_edits_every_team(user):
        return Group.objects.order_by("name")
    if not user.is_authenticated:
        return Group.objects.none()
    return user.groups.order_by("name")


def registrations_editable(*, user) -> QuerySet[Registration]:
    """The registrations `user` may change."""
    if user_edits_every_team(user):
        return Registration.objects.all()
    if not (user.is_authenticated and user.is_active):
        return Registration.objects.none()
    return Registration.objects.filter(team__in=user.groups.all())


def registration_editable(*, user, registration: Registration | None) -> bool:
    if registration is None:
        return user_edits_every_team(user)
    if user_edits_every_team(user):
        return True
    if not (user.is_authenticated and user.is_active) or registration.team_id is None:
        return False
    return user.groups.filter(pk=registration.team_id).exists()
