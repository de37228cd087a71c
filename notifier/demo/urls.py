"""The demo inbox's URLs, under /demo/ (notifier.urls includes them only when the demo app is
installed; every view answers 404 unless settings.NOTIFIER_DEMO)."""

from __future__ import annotations

from django.urls import path

from notifier.demo import receive, views

urlpatterns = [
    path("inbox/", views.inbox, name="demo-inbox"),
    path("inbox/<int:message_id>/", views.inbox_message, name="demo-inbox-message"),
    path(
        "inbox/newrelic/v2/applications.json",
        receive.newrelic_applications,
        name="demo-newrelic-applications",
    ),
    path(
        "inbox/newrelic/v2/applications/<int:app_id>/deployments.json",
        receive.newrelic_deployments,
        name="demo-newrelic-deployments",
    ),
    path("inbox/newrelic/graphql", receive.newrelic_graphql, name="demo-newrelic-graphql"),
    path("inbox/slack/api/<str:method>", receive.slack_method, name="demo-slack-api"),
    path("inbox/slack/webhook/<slug:slug>/", receive.slack_webhook, name="demo-slack-webhook"),
    path("inbox/teams/<slug:slug>/", receive.teams, name="demo-teams"),
    path("inbox/pagerduty/v2/change/enqueue", receive.pagerduty, name="demo-pagerduty"),
    path("inbox/webhook/<slug:slug>/", receive.webhook, name="demo-webhook"),
    path("inbox/sns/", receive.sns, name="demo-sns"),
]
