"""Every channel kind's receiving end, on the real local servers the channel tests use, each
keeping the order in which the notifications of one deployment took effect there.

A sink can hang on `started` (a slow provider): it waits `hang` seconds before the started
notification takes effect, so a later notification sent at once would overtake it.

- HTTP kinds (New Relic NerdGraph, Slack incoming webhook, Teams, PagerDuty, webhooks): a
  pytest-httpserver handler (threaded server) answering as the provider does.
- Slack with a bot token: tests.support.slack.FakeSlack, whose chat.postMessage stores the
  message and then holds its answer; what counts is the message the setup's stored ts names.
- Email: aiosmtpd on loopback.
- SES and SNS: moto's server, reached through a relay (a local HTTP server forwarding every
  request to moto) that holds a started request before forwarding it; SNS delivers to an SQS
  queue subscribed to the topic.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import unquote_plus

import boto3
import requests
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support.aws import REGION
from tests.support.services import free_port

HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


def said(text: str, deployment_id: str) -> str:
    """Which event a notification announces: the word after the deployment id in its text
    (New Relic's marker names the status: InProgress is the started marker); a webhook's
    body is the event itself."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("deployment_id") == deployment_id:
        return str(body.get("event"))
    found = re.search(re.escape(deployment_id) + r"\W{0,3}(\w+)", unquote_plus(text))
    word = found.group(1).lower() if found else "?"
    return {"inprogress": "started"}.get(word, word)


class Recorder:
    """The events one deployment's notifications announced, in the order they took effect."""

    def __init__(self, deployment_id: str, *, hang: float = 0.0) -> None:
        self.deployment_id = deployment_id
        self.hang = hang
        self.words: list[str] = []
        self.arrivals = 0  # requests that reached the sink (before any hang)
        self._lock = threading.Lock()

    def word(self, text: str) -> str:
        """The event `text` announces (counted as an arrival when it names the deployment)."""
        word = said(text, self.deployment_id)
        if word != "?":
            with self._lock:
                self.arrivals += 1
        return word

    def hold(self, word: str) -> None:
        if word == "started" and self.hang:
            time.sleep(self.hang)

    def took_effect(self, word: str) -> None:
        with self._lock:
            self.words.append(word)

    def arrive(self, text: str) -> None:
        word = self.word(text)
        self.hold(word)
        self.took_effect(word)


def http_sink(
    server: HTTPServer, path: str, recorder: Recorder, answer: Callable[[], Response]
) -> str:
    """Accept POSTs to `path` as a provider does; returns the full URL."""

    def handle(request: Request) -> Response:
        recorder.arrive(request.get_data(as_text=True))
        return answer()

    server.expect_request(path, method="POST").respond_with_handler(handle)
    return server.url_for(path)


class Mailbox:
    """An aiosmtpd handler: a message takes effect once its DATA is accepted."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        word = self.recorder.word(str(message["Subject"]))
        if word == "started" and self.recorder.hang:
            await asyncio.sleep(self.recorder.hang)
        self.messages.append(message)
        self.recorder.took_effect(word)
        return "250 Message accepted for delivery"


def smtp_sink(recorder: Recorder) -> tuple[Controller, Mailbox]:
    mailbox = Mailbox(recorder)
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, mailbox


class MotoRelay:
    """A local HTTP server in front of moto: forwards each request as it came, holding a
    started notification `recorder.hang` seconds first."""

    def __init__(self, moto_endpoint: str, recorder: Recorder) -> None:
        self.moto = moto_endpoint.rstrip("/")
        self.recorder = recorder
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._forward)
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def _forward(self, request: Request) -> Response:
        body = request.get_data()
        self.recorder.hold(self.recorder.word(body.decode(errors="replace")))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        query = f"?{request.query_string.decode()}" if request.query_string else ""
        answer = requests.request(
            request.method, self.moto + request.path + query, headers=headers, data=body, timeout=10
        )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        return Response(answer.content, status=answer.status_code, headers=kept)

    def stop(self) -> None:
        self.server.clear()
        if self.server.is_running():
            self.server.stop()


def sns_topic_with_queue(name: str = "deployments", *, filter_policy: dict | None = None):
    """An SNS topic and an SQS queue subscribed to it (with `filter_policy` on the message
    attributes when given). Returns (topic ARN, a function reading what reached the queue)."""
    sns_client = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    arn = sns_client.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-queue")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    sns_client.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    seen: list[dict] = []

    def received() -> list[dict]:
        while True:
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return seen
            for message in messages:
                seen.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    return arn, received
