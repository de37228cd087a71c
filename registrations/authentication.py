"""`Authorization: Token <token>` for the REST API, checked against registrations.tokens.

It extends DRF's TokenAuthentication (same header, same schema in /api/schema/): a token made
on /tokens/ or by `manage.py token_create`, or one made by DRF's `drf_create_token`, which
moves to a hashed token on its first use.
"""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from registrations.tokens import token_authenticate


class ApiTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        token = token_authenticate(key=key)
        if token is None:
            raise AuthenticationFailed(
                "The token is not valid or was revoked: make a new one at /tokens/."
            )
        if not token.user.is_active:
            raise AuthenticationFailed("The token's user is inactive: ask staff to reactivate it.")
        return (token.user, token)
