"""A setup's message template keeps to a restricted dialect, checked when it is compiled, and
every render (theirs or a kind's built-in one) stays within a time and size budget."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from channels.base import ChannelError
from channels.messages import render, sample_event, template_problems
from tests.channels.template_bombs import BUSY, CENTER, FLOOD, HIDDEN, NESTED_LOOPS


def body(text: str) -> str:
    return template_problems(kind="slack", body=text).get("body_template", "")


def test_it_refuses_six_nested_loops_over_a_text_quickly():
    began = time.monotonic()
    problem = body(NESTED_LOOPS)
    assert time.monotonic() - began < 0.5
    assert problem.startswith("line 1: {% for %} loops only over a list the deployment holds")
    assert '"0123456789" is text' in problem


def test_it_refuses_the_center_filter_naming_the_line_and_what_is_allowed():
    problem = body("Deployed\n\n" + CENTER)
    assert problem.startswith("line 3: the filter center is not allowed in a message template")
    assert "(allowed: default, " in problem and "truncatechars" in problem


def test_it_refuses_a_bomb_hidden_behind_a_condition_the_samples_never_meet():
    assert "loops only over a list the deployment holds" in body(HIDDEN)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{% load %}", "line 1: the tag load is not allowed"),
        ('{% include "messages/default/body.txt" %}', "the tag include is not allowed"),
        ("{% widthratio 1 1 20000000 %}", "the tag widthratio is not allowed"),
        ("{% lorem 100000 w %}", "the tag lorem is not allowed"),
        ("{% debug %}", "the tag debug is not allowed"),
        ('{{ event.description|truncatechars:"20000000" }}', "takes a number from 1 to 1000"),
        ('{{ event.application|stringformat:"20000000s" }}', "the filter stringformat is not"),
        ('{{ event.application|join:"," }}', "the filter join works on a list, and this is text"),
        ("{{ event.to_dict }}", "event has no field to_dict"),
        ("{{ event.application.upper }}", "event.application is text and has no field upper"),
        ("{{ settings.SECRET_KEY }}", "settings is not something a message template knows"),
        ("{% for c in event.application %}{% endfor %}", "event.application is text"),
        ("{% with s=event.description %}{% for c in s %}{% endfor %}{% endwith %}", "s is text"),
        ("{{ event.creator|default:event.x }}", "event has no field x"),
        ("{{ event.creator|yesno:event.description }}", "must be written out"),
    ],
)
def test_it_refuses_what_is_outside_the_dialect(text, reason):
    assert reason in body(text)


def test_the_dialect_keeps_what_a_message_needs():
    text = (
        "{# a note #}{% comment %}ignored{% endcomment %}"
        "{% with app=event.application|upper %}{{ app }}{% endwith %} {{ event_label|lower }}"
        '{% if is_failure and event.error_code %} {{ event.error_code|default:"?" }}{% elif '
        'event_name == "succeeded" %} ok{% else %} -{% endif %} '
        "{{ event.revision.summary|truncatechars:12 }} {{ event.complete_time|date:'Y-m-d' }} "
        "{{ event.instances.total }} instance{{ event.instances.total|pluralize }} "
        "{{ event.description|mrkdwn }} {{ event.revision.url|link_url }} {{ duration }}"
    )
    assert template_problems(kind="slack", subject="x", body=text) == {}
    message = render("slack", "body", sample_event("failed"), SimpleNamespace(body_template=text))
    assert message.startswith("STOREFRONT failed HOOK_EXECUTION_FAILURE")


def test_a_flood_within_the_dialect_is_refused_by_its_size():
    assert body(FLOOD) == "rendered more than 64 KiB for the started sample; simplify it"


def test_a_chain_of_filters_cannot_flood_one_node():
    # Each markdown escape doubles the backslashes: 150 x 2^12 characters in one node.
    chain = '{{ "' + "[" * 150 + '"' + "|markdown" * 12 + " }}"
    assert body(chain) == "rendered more than 64 KiB for the started sample; simplify it"


def test_a_render_over_its_time_limit_stops_naming_the_setup_and_the_limit(settings):
    settings.NOTIFIER_TEMPLATE_TIME_LIMIT_MS = 0.05
    setup = type("Setup", (), {"body_template": BUSY, "__str__": lambda self: "Slack #deploys"})()
    with pytest.raises(ChannelError) as raised:
        render("slack", "body", sample_event("failed"), setup)
    assert str(raised.value) == (
        "the body template of setup 'Slack #deploys' took longer than 0.05 ms to render; "
        "simplify it"
    )
    assert raised.value.retryable is False


def test_the_built_in_templates_render_within_the_budget_too(settings):
    settings.NOTIFIER_TEMPLATE_MAX_BYTES = 100
    setup = SimpleNamespace(kind="slack", body_template="")
    with pytest.raises(ChannelError) as raised:
        render("slack", "body", sample_event("failed"), setup)
    assert str(raised.value) == (
        "the default body template of slack rendered more than 100 bytes; simplify it"
    )


def test_a_template_written_straight_into_storage_is_checked_again_when_it_renders():
    setup = type("Setup", (), {"body_template": HIDDEN, "__str__": lambda self: "Slack #deploys"})()
    began = time.monotonic()
    with pytest.raises(ChannelError) as raised:
        render("slack", "body", sample_event("failed", application="checkout"), setup)
    assert time.monotonic() - began < 0.5
    assert str(raised.value).startswith(
        "the body template of setup 'Slack #deploys' is not allowed: line 1: {% for %} loops "
        "only over a list the deployment holds"
    )
