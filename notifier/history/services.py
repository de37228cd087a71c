"""The one write the history pages make: a resend, through the Store and notifier.dispatch
like any other send."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifier.dispatch import delivery_send, holder_name
from notifier.ratelimit import rate_limit_take
from notifier.storage import get_store
from notifier.storage.base import PENDING, DeliveryKey, Store
from registrations.models import NotificationSetup, Registration
from registrations.teams import registration_editable

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ResendRefused(Exception):
    """The resend was not allowed (`forbidden`) or not possible; the message says why."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


def delivery_resend(*, key: DeliveryKey, user: User, store: Store | None = None) -> str:
    """Requeue a finished delivery and send it now, as a new attempt. Returns its new state.

    Only the registration's team or staff may. Raises ResendRefused with the reason, or
    RateLimited past NOTIFIER_MANUAL_SENDS_PER_MINUTE resends a minute by this user.
    """
    store = store or get_store()
    delivery = store.delivery_get(key)
    if delivery is None:
        raise ResendRefused(f"there is no {key.event} notification for setup {key.setup_id}")
    setup = NotificationSetup.objects.select_related("registration").filter(pk=key.setup_id).first()
    registration = (
        setup.registration
        if setup
        else Registration.objects.filter(
            codedeploy_application_name=delivery.event.application
        ).first()
    )
    if not registration_editable(user=user, registration=registration):
        raise ResendRefused(
            "only members of the team that owns this registration (or staff) may resend",
            forbidden=True,
        )
    if setup is None:
        raise ResendRefused("the notification setup was deleted; add a new one in the admin")
    if not setup.enabled:
        raise ResendRefused("the notification setup is disabled; enable it in the admin first")
    if delivery.state == PENDING:
        raise ResendRefused("this notification is already waiting to be sent")
    rate_limit_take(user=user, action="resend")  # raises RateLimited
    if not store.delivery_requeue(key):
        raise ResendRefused("this notification is already waiting to be sent")
    state = delivery_send(key, store=store, holder=holder_name(), wait=False)
    return state or PENDING
