"""Bodies too big or JSON nested too deeply get a 413 or a 400 that names the limit, on every
endpoint, through a real server: never a 500, never a parse that runs out of stack."""

from __future__ import annotations

import json

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from registrations.models import Registration

ORIGINAL = {
    "codedeploy_application_name": "storefront",
    "notifications": [{"newrelic_notification": {"application_name": "web"}}],
}


@pytest.fixture
def token(transactional_db) -> str:
    user = User.objects.create_user("automation", is_staff=True)
    return Token.objects.create(user=user).key


@pytest.fixture
def api(db):
    user = User.objects.create_user("automation", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def registration_of_size(size: int) -> bytes:
    """A well-formed registration padded (with a field the API ignores) to `size` bytes."""
    body = json.dumps({**ORIGINAL, "padding": ""}).encode()
    return body.replace(b'"padding": ""', b'"padding": "' + b"x" * (size - len(body)) + b'"')


def over_the_limit() -> bytes:
    return registration_of_size(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)


# --- the body size limit ------------------------------------------------------------------


def test_the_limit_is_one_mebibyte_by_default():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024


@pytest.mark.parametrize("path", ["/api/registrations/", "/registrations"])
def test_a_body_over_the_limit_gets_413_naming_the_limit(live_server, token, path):
    body = over_the_limit()
    assert len(body) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    response = requests.post(
        live_server.url + path,
        data=body,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "detail": f"The request body is {len(body):,} bytes; at most 1,048,576 are accepted. "
        "A registration is a few kilobytes: send less."
    }
    assert not Registration.objects.exists()


def test_a_body_at_the_limit_is_read_as_usual(live_server, token):
    body = registration_of_size(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    assert len(body) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = requests.post(
        live_server.url + "/api/registrations/",
        data=body,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 201, response.text[:300]


def test_a_body_over_the_limit_gets_413_before_signing_in(live_server, transactional_db):
    response = requests.post(
        live_server.url + "/api/registrations/",
        data=over_the_limit(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert "at most 1,048,576 are accepted" in response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/admin/login/", "/login/", "/admin/registrations/registration/add/"]
)
def test_a_form_over_the_limit_gets_a_plain_413_page(live_server, transactional_db, path):
    response = requests.post(
        live_server.url + path,
        data={"username": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/html")
    assert "at most 1,048,576 are accepted" in response.text


def test_a_body_over_an_understated_content_length_is_not_read_past_the_limit(live_server, token):
    """A JSON body read by the API parser stops one byte past the limit, whatever the
    Content-Length said (a chunked or lying client)."""
    from io import BytesIO

    from rest_framework.exceptions import APIException

    from registrations.parsers import LimitedJSONParser

    stream = BytesIO(over_the_limit())
    with pytest.raises(APIException) as refused:
        LimitedJSONParser().parse(stream, "application/json", {})
    assert refused.value.status_code == 413
    assert stream.tell() == settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1


# --- JSON nesting -------------------------------------------------------------------------


def nested(depth: int, *, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


@pytest.mark.parametrize("depth", [65, 900, 1_500, 100_000, 500_000])
@pytest.mark.parametrize("path", ["/api/registrations/", "/registrations"])
def test_json_nested_deeper_than_the_bound_gets_400_saying_so(api, depth, path):
    body = json.dumps({**ORIGINAL, "notifications": "PLACEHOLDER"}).replace(
        '"PLACEHOLDER"', nested(depth)
    )
    response = api.post(path, data=body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {
        "detail": "The JSON is nested too deeply: more than 64 levels of [ ] or { }. "
        "A registration needs about 5; send a flatter body."
    }


def test_json_nested_in_objects_is_measured_too(api):
    body = '{"a":' * 70 + "1" + "}" * 70
    response = api.post("/api/registrations/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    body = {**ORIGINAL, "codedeploy_application_name": "[{" * 40 + '"\\' + "]}" * 40}
    response = api.post(
        "/api/registrations/", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert "codedeploy_application_name" in response.json()  # refused by the field, not depth


def test_json_at_the_bound_is_parsed_as_usual(api):
    body = json.dumps({**ORIGINAL, "extra": "PLACEHOLDER"}).replace('"PLACEHOLDER"', nested(63))
    response = api.post("/api/registrations/", data=body, content_type="application/json")
    assert response.status_code == 201, response.content[:300]


def test_malformed_json_still_says_it_is_not_valid_json(api):
    for body in ('{"a": ', "]]]]", '{"a": "unterminated [[[[', "[" * 10):
        response = api.post("/api/registrations/", data=body, content_type="application/json")
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith("The request body is not valid JSON"), body


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[", "{{{", "]]]"]', 1),
        (b'["a\\\\", [["\\"[[\\\\"]]]', 3),
        (b'"unterminated [[[[', 0),
        (b"[[[]]][[]]", 3),
    ],
)
def test_json_depth_counts_brackets_outside_strings_only(body, depth):
    from registrations.parsers import json_depth

    assert json_depth(body) == depth


def test_django_refusing_a_body_inside_the_api_is_a_413_too():
    from django.core.exceptions import RequestDataTooBig

    from registrations.api import exception_handler

    response = exception_handler(RequestDataTooBig("too big"), {"view": None})
    assert response.status_code == 413
    assert response.data == {
        "detail": "The request body is too large; at most 1,048,576 are accepted. "
        "A registration is a few kilobytes: send less."
    }


def test_no_hostile_query_parameter_of_the_api_list_is_a_server_error(api):
    from tests.notifier.test_bad_input import NASTY

    api.post("/api/registrations/", data=json.dumps(ORIGINAL), content_type="application/json")
    for path in ("/api/registrations/", "/registrations"):
        for name in ("page", "page_size", "ordering", "search", "format"):
            for value in NASTY:
                quoted = value.replace(" ", "%20").replace("&", "%26")
                response = api.get(f"{path}?{name}={quoted}")
                assert response.status_code < 500, (path, name, value)


def raw_post(url: str, path: str, content_length: str, body: bytes = b"{}") -> tuple[int, float]:
    """POST with a Content-Length a well-behaved client would never send; the status line, and
    how long the server took to give it."""
    import socket
    import time
    from urllib.parse import urlsplit

    where = urlsplit(url)
    started = time.monotonic()
    with socket.create_connection((where.hostname, where.port), timeout=10) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {where.hostname}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        status_line = connection.makefile("rb").readline().decode()
    return int(status_line.split()[1]), time.monotonic() - started


def test_a_content_length_over_the_limit_is_refused_without_waiting_for_the_body(
    live_server, transactional_db
):
    status_code, seconds = raw_post(live_server.url, "/api/registrations/", "99999999999999999999")
    assert status_code == 413
    assert seconds < 5  # the server did not wait for 10^20 bytes


@pytest.mark.parametrize("content_length", ["abc", "-1", "1.5", ""])
def test_a_malformed_content_length_is_not_a_server_error(
    live_server, transactional_db, content_length
):
    status_code, _ = raw_post(live_server.url, "/api/registrations/", content_length)
    assert 400 <= status_code < 500
