"""The history pages and dashboards: what deployments were seen, what every notification
did, how releases go.

listing (the deployment list: filters, cursors), deployment (one deployment's page),
applications (an application's page), statistics (the dashboard), health (poller and queue),
setups (setup names and health), advice (what to do about an error): selectors, reads only,
through notifier.storage's HistoryReader. services: the one write, a resend. forms, views and
charts: the pages. The engine never imports this package.
"""

from __future__ import annotations

from notifier.history.listing import (
    PER_PAGE,
    HistoryFilters,
    cursor_decode,
    cursor_encode,
    deployment_list,
)

__all__ = ["PER_PAGE", "HistoryFilters", "cursor_decode", "cursor_encode", "deployment_list"]
