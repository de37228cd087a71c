"""Push queues on moto's server over HTTP: an SQS queue, an EventBridge rule with CodeDeploy's
event pattern targeting it, and events put in AWS's exact shape; and a webhook sink that
records what each setup was told."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from werkzeug import Request, Response

DETAIL_TYPE = "CodeDeploy Deployment State-change Notification"
PATTERN = {"source": ["aws.codedeploy"], "detail-type": [DETAIL_TYPE]}


class PushQueue:
    """An SQS queue that an EventBridge rule feeds with CodeDeploy's deployment events, in
    the account and region of `session` (boto3's own by default)."""

    def __init__(
        self,
        endpoint: str,
        *,
        name: str = "codedeploy-events",
        session: Any = None,
        region: str = "us-east-1",
        visibility_timeout: int = 30,
    ) -> None:
        make = (session or boto3).client
        self.sqs = make("sqs", endpoint_url=endpoint, region_name=region)
        self.events = make("events", endpoint_url=endpoint, region_name=region)
        self.region = region
        self.url = self.sqs.create_queue(
            QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout)}
        )["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        rule = f"{name}-rule"
        self.events.put_rule(Name=rule, EventPattern=json.dumps(PATTERN))
        self.events.put_targets(
            Rule=rule, Targets=[{"Id": "queue", "Arn": arn["Attributes"]["QueueArn"]}]
        )

    def put(
        self,
        deployment_id: str,
        state: str,
        *,
        application: str = "storefront",
        group: str = "production",
        detail_type: str = DETAIL_TYPE,
    ) -> None:
        """Publish one event as CodeDeploy does, through EventBridge."""
        detail = {
            "instanceGroupId": "9fd2fbef-2157-40d8-91e7-6845af69e2d2",
            "region": self.region,
            "application": application,
            "deploymentId": deployment_id,
            "state": state,
            "deploymentGroup": group,
        }
        answer = self.events.put_events(
            Entries=[
                {
                    "Source": "aws.codedeploy",
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "Resources": [
                        f"arn:aws:codedeploy:{self.region}:123456789012:application:{application}"
                    ],
                }
            ]
        )
        assert answer["FailedEntryCount"] == 0, answer

    def send(self, body: str) -> None:
        """Put a raw message body on the queue (what a misrouted rule or a person might)."""
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def messages_left(self) -> int:
        """Messages on the queue, visible or in flight."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())


class WebhookSink:
    """A webhook endpoint on the local HTTP server; records (deployment id, event) per call."""

    def __init__(self, httpserver, path: str = "/hook/abcdefghijklmnop") -> None:
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        httpserver.expect_request(path, method="POST").respond_with_handler(self._handle)
        self.url = httpserver.url_for(path)

    def _handle(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        with self._lock:
            self.calls.append((body["deployment_id"], body["event"]))
        return Response("ok", status=200)

    def of(self, deployment_id: str) -> list[str]:
        return [event for d, event in list(self.calls) if d == deployment_id]
