"""A CloudTrail that answers LookupEvents (moto implements no CloudTrail lookups), speaking
the real JSON protocol (X-Amz-Target CloudTrail_20131101.LookupEvents,
application/x-amz-json-1.1) on a local HTTP server; boto3 reaches it through
AWS_ENDPOINT_URL_CLOUDTRAIL. Like AWS it allows 2 requests a second: a third within a second
is answered ThrottlingException (counted in `throttled`).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

from werkzeug import Request, Response

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
ACCOUNT = "123456789012"


def create_deployment_record(
    deployment_id: str,
    *,
    identity: dict,
    event_time: datetime | None = None,
    user_agent: str = "aws-cli/2.15.0 Python/3.11.6",
) -> dict:
    """A CloudTrail record of a successful codedeploy:CreateDeployment, in AWS's shape."""
    event_time = event_time or datetime.now(UTC)
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "codedeploy.amazonaws.com",
        "eventName": "CreateDeployment",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": user_agent,
        "requestParameters": {"applicationName": "web", "deploymentGroupName": "production"},
        "responseElements": {"deploymentId": deployment_id},
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


def iam_user(name: str) -> dict:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAEXAMPLE",
        "userName": name,
    }


def assumed_role(role: str, session: str, *, invoked_by: str = "") -> dict:
    identity = {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-11-29T10:00:00Z", "mfaAuthenticated": "false"},
        },
    }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


class FakeCloudTrail:
    def __init__(self, httpserver) -> None:
        self.records: list[dict] = []
        self.requests: list[dict] = []
        self.arrivals: list[float] = []
        self.throttled = 0
        self.page_size: int | None = None  # None: what the caller asks for
        self._lock = threading.Lock()
        httpserver.expect_request(
            "/", method="POST", headers={"X-Amz-Target": TARGET}
        ).respond_with_handler(self.handle)
        self.url = httpserver.url_for("/").rstrip("/")

    def add(self, record: dict) -> None:
        self.records.append(record)

    def _over_rate(self) -> bool:
        now = time.monotonic()
        with self._lock:
            # 0.95 s, not 1: a little slack for the request's own travel time
            recent = [t for t in self.arrivals if now - t < 0.95]
            self.arrivals.append(now)
            return len(recent) >= 2

    def handle(self, request: Request) -> Response:
        if self._over_rate():
            self.throttled += 1
            return self._answer({"__type": "ThrottlingException", "message": "Rate exceeded"}, 400)
        body = json.loads(request.get_data() or b"{}")
        self.requests.append(body)
        names = [
            a["AttributeValue"]
            for a in body.get("LookupAttributes", [])
            if a["AttributeKey"] == "EventName"
        ]
        start = body.get("StartTime", 0)
        end = body.get("EndTime", time.time())
        matching = []
        for record in sorted(self.records, key=lambda r: r["eventTime"], reverse=True):
            moment = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=UTC
            )
            if names and record["eventName"] not in names:
                continue
            if start <= moment.timestamp() <= end:
                matching.append((record, moment))
        offset = int(body.get("NextToken") or 0)
        size = self.page_size or int(body.get("MaxResults") or 50)
        page = matching[offset : offset + size]
        answer: dict = {
            "Events": [
                {
                    "EventId": record["eventID"],
                    "EventName": record["eventName"],
                    "ReadOnly": "false",
                    "AccessKeyId": record["userIdentity"].get("accessKeyId", ""),
                    "EventTime": moment.timestamp(),
                    "EventSource": record["eventSource"],
                    "Username": record["userIdentity"].get("userName", ""),
                    "Resources": [],
                    "CloudTrailEvent": json.dumps(record),
                }
                for record, moment in page
            ]
        }
        if offset + size < len(matching):
            answer["NextToken"] = str(offset + size)
        return self._answer(answer, 200)

    @staticmethod
    def _answer(body: dict, status: int) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/x-amz-json-1.1")
