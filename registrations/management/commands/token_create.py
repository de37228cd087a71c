"""manage.py token_create --user U --name N: a new API token, printed once on stdout."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registrations.tokens import token_create


class Command(BaseCommand):
    help = (
        "Make an API token for a user and print it (only the token, on stdout). It is shown "
        "this once: only its hash is stored. List and revoke tokens at /tokens/ or in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="the username the token acts as")
        parser.add_argument("--name", required=True, help="what will use the token, e.g. CI")

    def handle(self, *args, user: str, name: str, **options):
        account = get_user_model().objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"--user: no user is named {user!r}; create it first")
        if not account.is_active:
            raise CommandError(f"--user: {user!r} is inactive; reactivate it first")
        try:
            token, secret = token_create(user=account, name=name)
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"--{field}: {m}" for field, ms in error.message_dict.items() for m in ms)
            ) from None
        self.stderr.write(f"Token {token.name!r} ({token.shown}) for {user}; store it now.")
        self.stdout.write(secret)
