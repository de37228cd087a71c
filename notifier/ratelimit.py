"""At most NOTIFIER_MANUAL_SENDS_PER_MINUTE sends a person starts by hand, per user and action.

The test endpoint and the admin's test action share the action `test`; Resend on the history
pages is `resend`. Each allowed send takes one of `limit` slots, a cache key that expires one
window after it was taken; a send that finds every slot taken is refused until the oldest
expires. Taking a slot is the cache's `add` (an INSERT on the database cache, SET NX on
Redis), so two processes can never take the same slot: the limit holds across the web
processes and nodes of one service. The counts live in the `ratelimit` cache (settings).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import caches

CACHE_ALIAS = "ratelimit"
WINDOW_SECONDS = 60


class RateLimited(Exception):
    """Too many sends; `retry_after` is how many seconds until one more is allowed."""

    def __init__(self, *, action: str, limit: int, retry_after: int) -> None:
        self.action = action
        self.limit = limit
        self.retry_after = retry_after
        what = {"test": "test notifications", "resend": "resends"}.get(action, action)
        super().__init__(
            f"too many {what}: at most {limit} a minute per person "
            f"(NOTIFIER_MANUAL_SENDS_PER_MINUTE); try again in {retry_after} second"
            f"{'' if retry_after == 1 else 's'}"
        )


def _keys(*, user_id: int, action: str, limit: int) -> list[str]:
    return [f"manual-send:{action}:{user_id}:{slot}" for slot in range(limit)]


def rate_limit_take(*, user, action: str, count: int = 1) -> None:
    """Take `count` sends for `user` under `action`, or raise RateLimited and take none."""
    limit = settings.NOTIFIER_MANUAL_SENDS_PER_MINUTE
    cache = caches[CACHE_ALIAS]
    keys = _keys(user_id=user.pk, action=action, limit=limit)
    now = time.time()
    taken: list[str] = []
    if count <= limit:
        held = cache.get_many(keys)
        for key in keys:
            if len(taken) == count:
                break
            if key not in held and cache.add(key, now, timeout=WINDOW_SECONDS):
                taken.append(key)
    if len(taken) == count:
        return
    cache.delete_many(taken)  # all or nothing: give back what this call took
    held = sorted(caches[CACHE_ALIAS].get_many(keys).values())
    # The sends this call needs free up as the oldest `needed` slots expire.
    needed = min(count, limit) - (limit - len(held))
    wait = held[needed - 1] + WINDOW_SECONDS - time.time() if needed > 0 else 1
    raise RateLimited(action=action, limit=limit, retry_after=max(1, math.ceil(wait)))


def create_cache_table(*, using: str = "default", **_: object) -> None:
    """post_migrate: `migrate` creates the database cache's table (a no-op on Redis)."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)
