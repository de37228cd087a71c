"""A failed poll cycle's error in words a person can act on."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from notifier.sources import SourceError
from notifier.storage.base import StorageError

NO_REGION = "no AWS region is configured"
NO_CREDENTIALS = "no AWS credentials were found"
# What a failed poll's stored error says is missing: /healthz's `failing` when polling has
# never succeeded for want of it (notifier.health), and the setting the pages ask for.
AWS_REGION, AWS_CREDENTIALS = "aws_region", "aws_credentials"


def missing_aws_setting(error: str) -> str:
    """ "aws_region" or "aws_credentials" when a stored poll error (in describe_aws_error's
    words) says the service has no AWS region or no credentials; "" otherwise."""
    if NO_REGION in error:
        return AWS_REGION
    if NO_CREDENTIALS in error:
        return AWS_CREDENTIALS
    return ""


def describe_aws_error(exc: Exception) -> str:
    """The last AWS error in words a person can act on."""
    if isinstance(exc, SourceError):
        return str(exc)  # already in words, naming the source
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        operation = exc.operation_name
        if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
            return (
                f"AWS denied codedeploy:{operation}. Add it to the IAM policy of the "
                f"service's role (see docs/iam-policy.json). AWS said: {message}"
            )
        if code in ("ThrottlingException", "Throttling", "RequestLimitExceeded"):
            return f"AWS throttled codedeploy:{operation} even after backing off: {message}"
        if code in ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException"):
            return f"AWS did not accept the service's credentials ({code}): {message}"
        return f"codedeploy:{operation} failed with {code}: {message}"
    if isinstance(exc, NoRegionError):
        return f"{NO_REGION}: set AWS_REGION (for example us-east-1) in the service's environment"
    if isinstance(exc, NoCredentialsError):
        return (
            f"{NO_CREDENTIALS}: give the service a role, or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, BotoCoreError):
        return f"could not reach AWS CodeDeploy: {exc}"
    if isinstance(exc, StorageError):
        return f"could not store poll results: {exc}"
    return f"{type(exc).__name__}: {exc}"
