"""The demo's simulated AWS: moto's server, in this process, on loopback, with the extras.

`SimulatedAws` runs moto's own WSGI dispatcher (the one `ThreadedMotoServer` runs) behind
`notifier.demo.extras.ExtrasMiddleware`, which answers what moto does not implement
(CloudTrail LookupEvents, CodeDeploy deployment targets, the deployment fields moto leaves
empty). boto3 reaches it over HTTP through `AWS_ENDPOINT_URL`, exactly as it would reach AWS.

moto keeps its state in memory only, in process-global backends: ONE SimulatedAws per process
(a second one would share, and its reset would wipe, the first one's state, so starting a
second while one runs is refused). `reset()` clears moto (POST /moto-api/reset, which tests
call between tests) and the extras. Nothing is written to disk.

    aws = SimulatedAws(host="127.0.0.1", port=0)
    aws.start()
    aws.endpoint                       # "http://127.0.0.1:NNNN"
    aws.env                            # AWS_* variables a process needs to use it as its AWS
    aws.session("210987654321", "eu-west-1")   # a role of that account, assumed through STS
    aws.client("codedeploy", "210987654321", "eu-west-1")
    aws.extras.add_targets(deployment_id, [...])   # also add_cloudtrail_record, set_details
    aws.deployment_add(...), aws.put_event(...)    # what the scenario player does to moto
    aws.stop()
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import requests
from botocore.config import Config
from moto.codedeploy.models import DeploymentInfo, codedeploy_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from notifier.demo.extras import Extras, ExtrasMiddleware

DEFAULT_ACCOUNT = "123456789012"  # moto's own account: where plain credentials act
DEMO_ROLE_NAME = "codedeploy-notifier-demo"
CREDENTIALS = {
    "aws_access_key_id": "demo-access-key",
    "aws_secret_access_key": "demo-secret-key",
    "aws_session_token": "demo-session-token",
}
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5)


def role_arn(account_id: str) -> str:
    """The role the demo assumes to act in another account."""
    return f"arn:aws:iam::{account_id}:role/{DEMO_ROLE_NAME}"


class _QuietHandler(MotoRequestHandler):
    """moto's request handler, without a log line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class SimulatedAws:
    """moto's server plus the extras, on `host`:`port` (0: a free port). One per process:
    a second one started while one runs is refused (RuntimeError)."""

    _running: SimulatedAws | None = None
    _running_lock = threading.Lock()

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.extras = Extras()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sessions: dict[tuple[str, str], boto3.Session] = {}
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("SimulatedAws.endpoint: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def env(self) -> dict[str, str]:
        """What a process needs in its environment to use this AWS as its own (account
        DEFAULT_ACCOUNT, region us-east-1)."""
        return {
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": CREDENTIALS["aws_session_token"],
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def start(self) -> None:
        """Serve in a daemon thread; returns once the port is bound."""
        with SimulatedAws._running_lock:
            other = SimulatedAws._running
            if other is not None and other is not self:
                raise RuntimeError(
                    "SimulatedAws: one per process (moto keeps its state in process-global "
                    f"backends); stop the one at {other.host}:{other.port} first"
                )
            app = ExtrasMiddleware(DomainDispatcherApplication(create_backend_app), self.extras)
            self._server = make_server(
                self.host, self.port, app, threaded=True, request_handler=_QuietHandler
            )
            SimulatedAws._running = self
            self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="simulated-aws", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None
        self._sessions.clear()
        with SimulatedAws._running_lock:
            if SimulatedAws._running is self:
                SimulatedAws._running = None

    def reset(self) -> None:
        """Forget everything: moto's backends (every account and region) and the extras."""
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        self._sessions.clear()

    def session(self, account_id: str, region: str) -> boto3.Session:
        """A boto3 Session acting in `account_id` and `region`: the plain demo credentials
        for DEFAULT_ACCOUNT, otherwise a role of that account assumed through moto's STS."""
        key = (account_id, region)
        with self._lock:
            if key in self._sessions:
                return self._sessions[key]
            base = boto3.Session(region_name=region, **CREDENTIALS)
            if account_id == DEFAULT_ACCOUNT:
                session = base
            else:
                sts = base.client("sts", endpoint_url=self.endpoint, config=CLIENT_CONFIG)
                credentials = sts.assume_role(
                    RoleArn=role_arn(account_id),
                    RoleSessionName="codedeploy-notifier-demo",
                    DurationSeconds=43200,
                )["Credentials"]
                session = boto3.Session(
                    region_name=region,
                    aws_access_key_id=credentials["AccessKeyId"],
                    aws_secret_access_key=credentials["SecretAccessKey"],
                    aws_session_token=credentials["SessionToken"],
                )
            self._sessions[key] = session
            return session

    def client(self, service: str, account_id: str, region: str) -> Any:
        """A boto3 client of `service` acting in `account_id`/`region`, pointed at this AWS."""
        return self.session(account_id, region).client(
            service, endpoint_url=self.endpoint, region_name=region, config=CLIENT_CONFIG
        )

    def codedeploy_backend(self, account_id: str, region: str) -> Any:
        """moto's CodeDeploy backend of an account and region (in this process)."""
        return codedeploy_backends[account_id][region]

    def deployment_add(
        self,
        account_id: str,
        region: str,
        *,
        application: str,
        group: str,
        deployment_id: str,
        revision: dict[str, Any],
        description: str,
        creator: str,
    ) -> Any:
        """Put a deployment (status Created) straight into moto's backend, with the id and
        creator (user, autoscaling, codeDeployRollback) CodeDeploy would give it; moto's
        DeploymentInfo, which the player then moves through its states."""
        backend = self.codedeploy_backend(account_id, region)
        deployment_group = backend.deployment_groups[application][group]
        deployment = DeploymentInfo(
            application=backend.applications[application],
            deployment_group=deployment_group,
            revision=revision,
            deployment_config_name=deployment_group.deployment_config_name,
            description=description,
            ignore_application_stop_failures=False,
            targetInstances=None,
            auto_rollback_configuration=deployment_group.auto_rollback_configuration,
            update_outdated_instances_only=False,
            file_exists_behavior="DISALLOW",
            override_alarm_configuration=None,
            creator=creator,
        )
        deployment.deployment_id = deployment_id
        if deployment_group.auto_scaling_groups:
            deployment.target_instances = {
                "autoScalingGroups": deployment_group.auto_scaling_groups
            }
        backend.deployments[deployment_id] = deployment
        return deployment

    def put_event(
        self,
        account_id: str,
        region: str,
        *,
        detail_type: str,
        detail: dict[str, Any],
        resources: list[str],
        event_source: str = "aws.codedeploy",
    ) -> None:
        """Put one event on the default EventBridge bus of an account and region, as an AWS
        service would (moto lets a caller use an `aws.` source). Raises when refused."""
        answer = self.client("events", account_id, region).put_events(
            Entries=[
                {
                    "Source": event_source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "Resources": resources,
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event {detail_type!r}: {answer}")
