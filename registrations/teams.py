"""Who may change a registration: its team's members, and staff.

Everyone signed in reads all history; changing a registration, or resending one of its
notifications, is for the members of the team (a Django group) that owns it, and for staff.
The admin, the REST API and the history pages all ask these functions, so they agree.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import QuerySet

from registrations.models import Registration
from registrations.sources import Source, source_default


def user_edits_every_team(user) -> bool:
    return bool(user.is_active and (user.is_staff or user.is_superuser))


def user_teams(*, user) -> QuerySet[Group]:
    """The teams `user` belongs to (every team for staff)."""
    if user_edits_every_team(user):
        return Group.objects.order_by("name")
    if not user.is_authenticated:
        return Group.objects.none()
    return user.groups.order_by("name")


def registration_editable(*, user, registration: Registration | None) -> bool:
    if registration is None:
        return user_edits_every_team(user)
    if user_edits_every_team(user):
        return True
    if not (user.is_authenticated and user.is_active) or registration.team_id is None:
        return False
    return user.groups.filter(pk=registration.team_id).exists()


class TeamNotAllowed(Exception):
    """`user` may not give a registration this team; the message says what to do."""


def team_for_save(*, user, team: Group | None, given: bool, current: Group | None):
    """The team a registration that `user` saves ends up with.

    Staff may set any team, or none. Anyone else must keep the registration in one of their
    own teams: without `team` given, a new registration joins their only team.
    """
    if user_edits_every_team(user):
        return team if given else current
    mine = list(user.groups.order_by("name"))
    names = ", ".join(g.name for g in mine)
    if not mine:
        raise TeamNotAllowed(
            "you belong to no team, so you cannot own a registration: ask an administrator "
            "to add you to your team's group"
        )
    if not given:
        if current is not None:
            return current
        if len(mine) == 1:
            return mine[0]
        raise TeamNotAllowed(f"team is required: name one of your teams ({names})")
    if team is None:
        raise TeamNotAllowed(f"team must be one of your teams ({names}), not empty")
    if team not in mine:
        raise TeamNotAllowed(
            f"you are not a member of {team.name}; choose one of your teams ({names})"
        )
    return team


def application_name_taken(
    *, name: str, user, source: Source | None = None, exclude_pk: int | None = None
) -> str | None:
    """Why `user` cannot register `name` in `source` (default: the default source) because
    it is registered there already, or None. The same name in another source is another
    account's application, and free.

    Members of the owning team (and staff) learn which registration to update; anyone else
    learns only that another team has it, never that registration's id or team.
    """
    source = source or source_default()
    clash = Registration.objects.filter(codedeploy_application_name=name, source=source)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    existing = clash.first()
    if existing is None:
        return None
    # The single-account case reads as before; another source is named.
    where = "" if source.is_default else f" in source {source.name!r}"
    if user is not None and registration_editable(user=user, registration=existing):
        return (
            f"{name!r} is registered already{where} (registration {existing.pk}); update "
            "that registration instead"
        )
    return (
        f"{name!r} is registered already{where} by another team: ask that team, or staff, "
        "to add your notifications to its registration"
    )
