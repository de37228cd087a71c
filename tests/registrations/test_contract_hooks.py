"""The contract test drops a failure only for a rule the document cannot state; these keep the
hooks that decide so narrow."""

from __future__ import annotations

import json

from tests.registrations.contract_hooks import refused_by_precondition, refused_by_stateful_rule


def applied(*lines: str) -> bytes:
    return json.dumps({"non_field_errors": list(lines)}).encode()


def test_an_apply_refused_only_by_stored_state_is_dropped():
    body = applied(
        "registrations[1]: source: 'x' does not exist; name one of /api/sources/",
        "default/web: notifications[0].webhook_notification.url: This URL must start with "
        "https:// (or http://).",
        "default/web: the document names it twice; keep one",
    )
    assert refused_by_stateful_rule(400, body)


def test_an_apply_refused_for_a_rule_the_document_could_state_still_fails():
    stated = "default/web: notifications[0].slack_notification.bot_token: A bot token starts"
    assert not refused_by_stateful_rule(400, applied(stated))
    assert not refused_by_stateful_rule(400, applied("the document has no registrations"))
    assert not refused_by_stateful_rule(
        400, json.dumps({"setup": ["Ensure this value is greater than or equal to 1."]}).encode()
    )


def test_only_a_412_answering_a_precondition_that_was_sent_is_dropped():
    assert refused_by_precondition(412, {"If-Match": '"abc"'})
    assert refused_by_precondition(412, {"if-none-match": "*"})
    assert not refused_by_precondition(412, {})
    assert not refused_by_precondition(400, {"If-Match": '"abc"'})
