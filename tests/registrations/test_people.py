"""People: rules from an IAM principal to a person, their precedence, and the People admin
through Django's test client."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from notifier.cloudtrail import cloudtrail_principal
from notifier.events import DeploymentEvent, Event, Rollback
from registrations.deployers import deployer_for
from registrations.people import Person, PersonRule
from tests.support.cloudtrail import assumed_role, create_deployment_record, iam_user

pytestmark = pytest.mark.django_db

PEOPLE = "/admin/registrations/person/"


def event(creator: str = "user", **fields) -> DeploymentEvent:
    return DeploymentEvent(
        deployment_id="d-AAAAAAAAA",
        application="storefront",
        deployment_group="production",
        status="Succeeded",
        event=Event.SUCCEEDED,
        creator=creator,
        **fields,
    )


def principal(identity: dict):
    return cloudtrail_principal(create_deployment_record("d-AAAAAAAAA", identity=identity))[1]


@pytest.fixture
def ana() -> Person:
    return Person.objects.create(name="Ana Lima", email="ana@example.com", slack_user_id="U0ANA")


@pytest.fixture
def bo() -> Person:
    return Person.objects.create(name="Bo Chen", email="bo@example.com")


def test_an_iam_user_rule_names_the_person(ana):
    PersonRule.objects.create(person=ana, kind="iam_user", pattern="ANA")
    deployer = deployer_for(event(), principal(iam_user("ana")))
    assert (deployer.kind, deployer.name, deployer.email) == (
        "person",
        "Ana Lima",
        "ana@example.com",
    )
    assert deployer.slack_user_id == "U0ANA"
    assert deployer.rule == "People rule: iam user name ANA is Ana Lima"
    assert deployer.principal_arn == "arn:aws:iam::123456789012:user/ana"


def test_a_role_arn_pattern_matches_with_a_star(ana):
    PersonRule.objects.create(
        person=ana, kind="arn", pattern="arn:aws:iam::123456789012:role/deploy-*"
    )
    assert deployer_for(event(), principal(assumed_role("deploy-web", "x"))).name == "Ana Lima"
    assert deployer_for(event(), principal(assumed_role("other", "x"))).name == "other (role)"


def test_at_equal_priority_a_user_name_rule_beats_a_session_rule_beats_an_arn_rule(ana, bo):
    PersonRule.objects.create(person=bo, kind="arn", pattern="arn:aws:iam::*:role/ci")
    PersonRule.objects.create(person=ana, kind="session_name", pattern="build-*")
    assert deployer_for(event(), principal(assumed_role("ci", "build-7"))).name == "Ana Lima"


def test_a_lower_priority_number_wins_whatever_the_kind(ana, bo):
    PersonRule.objects.create(person=bo, kind="arn", pattern="arn:aws:iam::*:role/ci", priority=1)
    PersonRule.objects.create(person=ana, kind="session_name", pattern="build-*")
    assert deployer_for(event(), principal(assumed_role("ci", "build-7"))).name == "Bo Chen"


def test_an_email_session_name_is_that_person(ana):
    deployer = deployer_for(
        event(), principal(assumed_role("AWSReservedSSO_Dev", "ANA@example.com"))
    )
    assert (deployer.name, deployer.email, deployer.slack_user_id) == (
        "Ana Lima",
        "ana@example.com",
        "U0ANA",
    )
    assert deployer.rule.startswith("built-in rule")


def test_an_email_session_name_of_no_known_person_is_named_by_its_local_part():
    deployer = deployer_for(
        event(), principal(assumed_role("AWSReservedSSO_Dev", "cy@example.com"))
    )
    assert (deployer.kind, deployer.name, deployer.email) == ("person", "cy", "cy@example.com")


def test_a_rule_beats_the_built_in_email_rule(bo):
    PersonRule.objects.create(person=bo, kind="session_name", pattern="*@example.com")
    assert deployer_for(event(), principal(assumed_role("r", "cy@example.com"))).name == "Bo Chen"


def test_a_ci_role_with_no_person_is_shown_as_the_role():
    deployer = deployer_for(event(), principal(assumed_role("deploy-bot", "i-0abc")))
    assert (deployer.kind, deployer.name) == ("principal", "deploy-bot (role)")


def test_categories_say_what_started_it_in_words():
    assert deployer_for(event("autoscaling"), None).name == "Auto Scaling"
    rollback = event(
        "codeDeployRollback", rollback=Rollback(rollback_triggering_deployment_id="d-BROKEN123")
    )
    assert deployer_for(rollback, None).name == "automatic rollback of d-BROKEN123"
    pipeline = principal(assumed_role("pipe", "123", invoked_by="codepipeline.amazonaws.com"))
    assert deployer_for(event(), pipeline).name == "CodePipeline"
    assert deployer_for(event(), None).name == ""
    assert event().started_by == "an AWS user (not known yet)"


def test_the_deployer_survives_the_ledgers_round_trip(ana):
    PersonRule.objects.create(person=ana, kind="iam_user", pattern="ana")
    deployer = deployer_for(event(), principal(iam_user("ana")))
    original = event(deployer=deployer)
    assert DeploymentEvent.from_dict(original.to_dict()) == original
    assert original.to_dict()["deployer"]["email"] == "ana@example.com"


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def person_form(**fields) -> dict[str, str]:
    return {
        "name": "Ana Lima",
        "email": "ana@example.com",
        "slack_user_id": "U0ANA",
        "rules-TOTAL_FORMS": "1",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        "rules-0-kind": "iam_user",
        "rules-0-pattern": "ana",
        "rules-0-priority": "100",
        **fields,
    }


def test_a_person_and_a_rule_are_added_in_the_admin(staff_client):
    answer = staff_client.post(PEOPLE + "add/", person_form())
    assert answer.status_code == 302, answer.content.decode()[:2000]
    rule = PersonRule.objects.get()
    assert (rule.person.name, rule.kind, rule.pattern) == ("Ana Lima", "iam_user", "ana")
    listing = staff_client.get(PEOPLE).content.decode()
    assert "IAM user name ana" in listing
    assert "lowest number first" in listing


def test_the_admin_says_what_is_wrong_with_a_slack_id_and_an_arn(staff_client):
    answer = staff_client.post(
        PEOPLE + "add/",
        person_form(
            **{"slack_user_id": "@ana", "rules-0-kind": "arn", "rules-0-pattern": "role/x"}
        ),
    )
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "slack_user_id is a Slack member id" in page
    assert "pattern of an ARN rule starts with arn:" in page
    assert not Person.objects.exists()
