"""The API's one JSON parser: a body no longer than DATA_UPLOAD_MAX_MEMORY_SIZE and no deeper
than NOTIFIER_MAX_JSON_DEPTH, checked before json.loads sees it.

json.loads recurses once per level of [ ] or { } and raises RecursionError near Python's
recursion limit (~1,000), which would be a 500; serializers recurse over what it returns too.
A registration is 5 levels deep.
"""

from __future__ import annotations

from io import BytesIO
from itertools import accumulate, repeat
from operator import sub

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from notifier.middleware import body_too_large_message

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN_AS_TWO_CLOSE_AS_ZERO = bytes.maketrans(b"[]{}", b"\x02\x00\x02\x00")


def json_depth(body: bytes) -> int:
    """How deeply `body`'s arrays and objects nest; brackets inside strings do not count.

    Linear in the body's size, every step done in C: escaped backslashes and quotes are
    dropped (a backslash is only valid inside a string, and pairs from the left as JSON
    reads them), the body is cut at the remaining quotes and every other piece (the ones
    inside strings) dropped, every byte but a bracket deleted, and the depth is the highest
    prefix sum of +1 per opening and -1 per closing bracket.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[::2])
    brackets = outside_strings.translate(None, _NOT_BRACKETS)
    steps = map(sub, brackets.translate(_OPEN_AS_TWO_CLOSE_AS_ZERO), repeat(1))
    return max(accumulate(steps, initial=0))


class RequestBodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


class JSONTooDeep(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "json_too_deep"


def json_too_deep_message(limit: int) -> str:
    return (
        f"The JSON is nested too deeply: more than {limit} levels of [ ] or {{ }}. "
        "A registration needs about 5; send a flatter body."
    )


class LimitedJSONParser(JSONParser):
    """DRF's JSONParser, refusing a body over the size limit (413) or the depth limit (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:  # no body
            return super().parse(stream, media_type, parser_context)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise RequestBodyTooLarge(body_too_large_message(size=None, limit=limit))
        depth_limit = settings.NOTIFIER_MAX_JSON_DEPTH
        openers = body.count(b"[") + body.count(b"{")  # fewer cannot nest deeper: no scan
        if openers > depth_limit and json_depth(body) > depth_limit:
            raise JSONTooDeep(json_too_deep_message(depth_limit))
        return super().parse(BytesIO(body), media_type, parser_context)
