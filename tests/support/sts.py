"""A relay in front of moto's STS that refuses AssumeRole for chosen roles, as AWS does when a
role's trust policy does not allow the caller (moto's STS assumes any role)."""

from __future__ import annotations

from urllib.parse import parse_qs

import requests
from werkzeug import Request, Response

ACCESS_DENIED = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:sts::123456789012:assumed-role/notifier/i-0abc is not authorized \
to perform: sts:AssumeRole on resource: {role}</Message>
  </Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>"""


class DenyingSts:
    """Forwards every STS request to moto, except AssumeRole of a role in `denied`."""

    def __init__(self, httpserver, moto_endpoint: str) -> None:
        self.moto_endpoint = moto_endpoint
        self.denied: set[str] = set()
        self.assumed: list[str] = []
        httpserver.expect_request("/", method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/")

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("Action") == "AssumeRole":
            self.assumed.append(form.get("RoleArn", ""))
            if form.get("RoleArn") in self.denied:
                return Response(
                    ACCESS_DENIED.format(role=form["RoleArn"]),
                    status=403,
                    content_type="text/xml",
                )
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        answer = requests.post(self.moto_endpoint + "/", data=body, headers=headers, timeout=10)
        return Response(
            answer.content,
            status=answer.status_code,
            content_type=answer.headers.get("Content-Type"),
        )
