"""What a person can do about a notification that failed, chosen by its ErrorCode (never by
the words of the provider's message)."""

from __future__ import annotations

from channels.base import ErrorCode
from channels.registry import label_for

FAILURE_ADVICE: dict[str, str] = {
    ErrorCode.BAD_CONFIG: (
        "Correct what the error names: a setting on the service (restart it after changing "
        "the environment) or a field of this setup, then press Resend."
    ),
    ErrorCode.UNDECRYPTABLE: (
        "Enter the secret again in this setup, or give the service its old "
        "NOTIFIER_ENCRYPTION_KEY back."
    ),
    ErrorCode.UNAUTHORIZED: (
        "The provider refused the credentials: check the key or token, then resend."
    ),
    ErrorCode.FORBIDDEN: (
        "The provider accepted the credentials but refused this action: give them the "
        "permission the error names, then resend."
    ),
    ErrorCode.NOT_FOUND: (
        "The provider does not know the target: correct the name or URL in this setup."
    ),
    ErrorCode.TIMEOUT: (
        "The provider did not answer in time: it is retried automatically; if it keeps "
        "happening, check the provider's status."
    ),
    ErrorCode.UNREACHABLE: (
        "The provider could not be reached: check its URL and the network; it is retried."
    ),
    ErrorCode.RATE_LIMITED: (
        "The provider is rate limiting: it is retried automatically with backoff."
    ),
    ErrorCode.SERVER_ERROR: "The provider had an error of its own: it is retried automatically.",
    ErrorCode.BAD_RESPONSE: (
        "The provider's address answered, but not as the provider does (often a proxy's page): "
        "it is retried; if it keeps happening, check the URL and any proxy on the way."
    ),
    ErrorCode.SETUP_DISABLED: (
        "The setup was removed or disabled; nothing more will be sent through it."
    ),
    ErrorCode.SUPERSEDED: (
        "Nothing to do: the deployment's outcome had already been sent to this setup, so this "
        "earlier news was not sent after it."
    ),
    ErrorCode.INTERNAL: (
        "The service itself failed (see its log): it is retried; report it if it keeps happening."
    ),
}


def failure_advice(*, code: str, kind: str) -> str:
    """What a person can do about a setup's last error, chosen by its ErrorCode."""
    return FAILURE_ADVICE.get(code) or (
        f"Read the error, correct the {label_for(kind)} setup in the admin, "
        "then press Resend on the deployment."
    )
