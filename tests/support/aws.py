"""moto's server, reached over HTTP by boto3, and a CodeDeploy that moves deployments.

moto keeps CodeDeploy deployments at `Created`; `FakeCodeDeploy.move` changes moto's backend
objects in the test process, the way AWS would, and fills what moto leaves empty (start and
complete times, instance counts, error information).
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


class MotoServer:
    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    @property
    def env(self) -> dict[str, str]:
        return {**AWS_ENV, "AWS_ENDPOINT_URL": self.endpoint}

    def reset(self) -> None:
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        self.server.stop()


def codedeploy_backend(account: str = ACCOUNT, region: str = REGION) -> Any:
    from moto.codedeploy.models import codedeploy_backends

    return codedeploy_backends[account][region]


class FakeCodeDeploy:
    """Creates applications, groups and deployments over HTTP; moves them in the backend.

    moto answers errorInformation and rollbackInfo empty whatever the backend holds, so
    tests of those read tests/fixtures/codedeploy/ instead.
    """

    def __init__(
        self, endpoint: str, *, session: Any = None, account: str = ACCOUNT, region: str = REGION
    ) -> None:
        """`session`, `account`, `region`: another account's or region's CodeDeploy (a
        session acting there, e.g. one that assumed a role in that account through moto)."""
        self.client = (session or boto3).client(
            "codedeploy", endpoint_url=endpoint, region_name=region
        )
        self.account, self.region = account, region
        self._groups: set[tuple[str, str]] = set()

    def group(self, application: str, group: str = "production") -> None:
        if (application, group) in self._groups:
            return
        if application not in {a for a, _ in self._groups}:
            with contextlib.suppress(self.client.exceptions.ApplicationAlreadyExistsException):
                self.client.create_application(applicationName=application)
        self.client.create_deployment_group(
            applicationName=application,
            deploymentGroupName=group,
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy",
        )
        self._groups.add((application, group))

    def deploy(
        self,
        application: str,
        group: str = "production",
        *,
        commit: str = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6",
        repository: str = "acme/storefront",
        description: str = "release",
        revision: dict | None = None,
    ) -> str:
        self.group(application, group)
        revision = revision or {
            "revisionType": "GitHub",
            "gitHubLocation": {"repository": repository, "commitId": commit},
        }
        return self.client.create_deployment(
            applicationName=application,
            deploymentGroupName=group,
            revision=revision,
            description=description,
        )["deploymentId"]

    def move(
        self, deployment_id: str, status: str, *, instances: int = 2, creator: str | None = None
    ) -> None:
        """Move a deployment to `status` as AWS would, with counts and times."""
        deployment = codedeploy_backend(self.account, self.region).deployments[deployment_id]
        now = datetime.now(UTC)
        deployment.status = status
        if creator:
            deployment.creator = creator
        if status != "Created" and deployment.start_time is None:
            deployment.start_time = now
        overview = dict.fromkeys(
            ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0
        )
        if status in ("InProgress", "Queued"):
            overview["InProgress"] = instances
        elif status == "Ready":
            overview["Ready"] = instances
        elif status == "Succeeded":
            overview["Succeeded"] = instances
        elif status == "Failed":
            overview["Failed"] = 1
            overview["Skipped"] = max(0, instances - 1)
        elif status == "Stopped":
            overview["Skipped"] = instances
        deployment.deployment_overview = overview
        if status in ("Succeeded", "Failed", "Stopped"):
            deployment.complete_time = now

    def status(self, deployment_id: str) -> str:
        return codedeploy_backend(self.account, self.region).deployments[deployment_id].status


def apply_env(env: dict[str, str]) -> dict[str, str | None]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    return old


def restore_env(old: dict[str, str | None]) -> None:
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
