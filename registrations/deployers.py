"""From a deployment and its IAM principal to a Deployer: a person, a principal or a category.

`deployer_for` is the rule: CodeDeploy's own categories first (Auto Scaling, an automatic
rollback), then CodePipeline, then the People rules (registrations.people, in their order),
then the built-in rule that a session name which is an email address is that person, and
last the principal itself in words ("deploy-bot (role)").
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from notifier.cloudtrail import Principal
from notifier.events import CATEGORY, CREATOR_WORDS, PERSON, PRINCIPAL, Deployer, DeploymentEvent
from registrations.people import DeploymentPrincipal, Person, PersonRule

CODEPIPELINE = "codepipeline.amazonaws.com"


def wants_principal(event: DeploymentEvent) -> bool:
    """Whether CloudTrail can say more than CodeDeploy's creator: only `user` deployments."""
    return event.creator == "user"


def _is_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def _person(person: Person, principal: Principal, rule: str) -> Deployer:
    return Deployer(
        kind=PERSON,
        name=person.name,
        email=person.email,
        slack_user_id=person.slack_user_id,
        principal_arn=principal.arn,
        rule=rule,
    )


def _rules_sorted() -> list[PersonRule]:
    rules = list(PersonRule.objects.select_related("person"))
    rules.sort(key=lambda r: (r.priority, PersonRule.KIND_ORDER.get(r.kind, 9), r.pk))
    return rules


def _rule_value(rule: PersonRule, principal: Principal) -> list[str]:
    if rule.kind == PersonRule.IAM_USER:
        return [principal.user_name]
    if rule.kind == PersonRule.SESSION_NAME:
        return [principal.session_name]
    return [principal.role_arn, principal.arn]


def _principal_in_words(principal: Principal) -> str:
    if principal.type == "IAMUser" and principal.user_name:
        return f"{principal.user_name} (IAM user)"
    if principal.role_name:
        return f"{principal.role_name} (role)"
    if principal.type == "Root":
        return "the account's root user"
    return principal.arn or principal.type or "an AWS principal"


def deployer_for(event: DeploymentEvent, principal: Principal | None) -> Deployer:
    """Who started `event`'s deployment, in words (see the module's docstring for the order)."""
    if event.creator in CREATOR_WORDS:
        words = dataclasses.replace(event, deployer=Deployer()).started_by
        return Deployer(kind=CATEGORY, name=words, rule=f"CodeDeploy's creator {event.creator}")
    if principal is None:
        return Deployer()
    if principal.invoked_by == CODEPIPELINE:
        return Deployer(
            kind=CATEGORY,
            name="CodePipeline",
            principal_arn=principal.arn,
            rule=f"called by {CODEPIPELINE} as {_principal_in_words(principal)}",
        )
    for rule in _rules_sorted():
        if any(rule.matches(value) for value in _rule_value(rule, principal)):
            return _person(rule.person, principal, rule.in_words())
    if principal.session_name and _is_email(principal.session_name):
        email = principal.session_name
        person = Person.objects.filter(email__iexact=email).first()
        words = "built-in rule: a session name that is an email address is that person"
        if person is not None:
            return _person(person, principal, words)
        return Deployer(
            kind=PERSON,
            name=email.split("@")[0],
            email=email,
            principal_arn=principal.arn,
            rule=words,
        )
    return Deployer(
        kind=PRINCIPAL,
        name=_principal_in_words(principal),
        principal_arn=principal.arn,
        rule="no People rule matches this principal",
    )


def principal_get(deployment_id: str) -> Principal | None:
    row = DeploymentPrincipal.objects.filter(deployment_id=deployment_id).first()
    if row is None or not row.principal:
        return None
    return Principal.from_dict(row.principal)


def deployer_resolve(event: DeploymentEvent) -> Deployer:
    """`event`'s Deployer from what is known now (the stored principal, today's rules)."""
    return deployer_for(
        event, principal_get(event.deployment_id) if wants_principal(event) else None
    )


def deployer_known(event: DeploymentEvent) -> tuple[Deployer, bool]:
    """`event`'s Deployer as known now, and whether that is final: False while CloudTrail has
    not yet named the principal of a deployment a user created."""
    if not wants_principal(event):
        return deployer_for(event, None), True
    principal = principal_get(event.deployment_id)
    return deployer_for(event, principal), principal is not None


def principal_wanted(event: DeploymentEvent, *, source: str) -> None:
    """Note that `event`'s principal is to be looked up (once; nothing for other creators)."""
    if not wants_principal(event):
        return
    DeploymentPrincipal.objects.get_or_create(
        deployment_id=event.deployment_id,
        defaults={
            "source": source,
            "create_time": event.create_time or datetime.now().astimezone(),
        },
    )


def principal_record(deployment_id: str, principal: Principal, *, source: str) -> bool:
    """Keep what CloudTrail said about `deployment_id`; True if it was not known before."""
    row, created = DeploymentPrincipal.objects.get_or_create(
        deployment_id=deployment_id,
        defaults={
            "source": source,
            "create_time": principal.event_time or datetime.now().astimezone(),
            "principal": principal.to_dict(),
        },
    )
    if created:
        return True
    if row.principal:
        return False
    row.principal = principal.to_dict()
    row.save(update_fields=["principal"])
    return True


def principals_missing(*, source: str, now: datetime) -> list[DeploymentPrincipal]:
    """The deployments of `source` whose principal is still unknown, created within
    NOTIFIER_DEPLOYER_LOOKUP_FOR and not looked up in the last NOTIFIER_DEPLOYER_LOOKUP_EVERY."""
    since = now - timedelta(seconds=settings.NOTIFIER_DEPLOYER_LOOKUP_FOR)
    recently = now - timedelta(seconds=settings.NOTIFIER_DEPLOYER_LOOKUP_EVERY)
    return list(
        DeploymentPrincipal.objects.filter(
            source=source, principal__isnull=True, create_time__gte=since
        )
        .filter(Q(looked_up_at__isnull=True) | Q(looked_up_at__lt=recently))
        .order_by("create_time")[:500]
    )


def principals_looked_up(rows: list[DeploymentPrincipal], *, now: datetime) -> None:
    ids = [row.deployment_id for row in rows]
    for row in DeploymentPrincipal.objects.filter(deployment_id__in=ids, principal__isnull=True):
        row.looked_up_at, row.lookups = now, row.lookups + 1
        row.save(update_fields=["looked_up_at", "lookups"])
