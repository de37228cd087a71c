"""The end of a lifecycle hook's log, made fit to send: secrets redacted, then cut short.

A hook's script output goes to chat rooms, inboxes and webhooks, so anything that looks like a
credential is masked before it is stored or sent: AWS access key ids, `password=`/`token=`/
`secret=`-like assignments, Authorization headers and bearer tokens, private key blocks,
credentials in URLs and well-known token shapes. Then only the last LOG_TAIL_LINES lines and
at most LOG_TAIL_BYTES bytes are kept.
"""

from __future__ import annotations

import re

MASK = "••••••"
LOG_TAIL_LINES = 20
LOG_TAIL_BYTES = 2048
CUT = "…"

_KEY_WORDS = (
    r"[\w.-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credentials?|auth[_-]?key|signature|session[_-]?key)[\w.-]*"
)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    re.S,
)
_PRIVATE_KEY_END = re.compile(r"\A.*?-----END ([A-Z0-9 ]*)PRIVATE KEY-----", re.S)
_PATTERNS = [
    # AWS access key ids (long-term AKIA, temporary ASIA): https://docs.aws.amazon.com/IAM/latest/UserGuide/security-creds.html
    (re.compile(r"\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b"), r"\1" + MASK),
    # Authorization headers and bearer tokens, whatever the scheme.
    (
        re.compile(
            r"((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token|digest)?\s*)"
            r"[^\s\"',}]+",
            re.I,
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(\b(?:Bearer|Token)\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + MASK),
    # key=value, key: value, "key": "value", --key value, for key-like names; after a bare
    # space ("secret_key AbC...") only a long base64-ish or hex value counts, not prose.
    (
        re.compile(rf"((?<![\w-]){_KEY_WORDS}[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]+)", re.I),
        lambda m: m.group(1) + MASK if _is_value(m.group(2)) else m.group(0),
    ),
    (
        re.compile(rf"((?<![\w-])--{_KEY_WORDS}\s+[\"']?)([^\s\"',;&]+)", re.I),
        lambda m: m.group(1) + MASK if _is_value(m.group(2)) else m.group(0),
    ),
    (
        re.compile(rf"((?<![\w-]){_KEY_WORDS}\s+)([A-Za-z0-9+/=_.~-]{{16,}})", re.I),
        lambda m: m.group(1) + MASK if re.search(r"\d", m.group(2)) else m.group(0),
    ),
    # user:password@ in URLs (postgres://app:pw@db/...).
    (re.compile(r"(//[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
    # Well-known token shapes: GitHub, GitLab, Slack, Stripe, npm.
    (re.compile(r"\b(gh[pousr]_|github_pat_|glpat-|npm_)[A-Za-z0-9_-]{16,}"), r"\1" + MASK),
    (re.compile(r"\b(xox[abposr]-)[A-Za-z0-9-]+"), r"\1" + MASK),
    (re.compile(r"\b((?:sk|rk)_(?:live|test)_)[A-Za-z0-9]{10,}"), r"\1" + MASK),
]
_NOT_SECRET = frozenset({"", "true", "false", "none", "null", "yes", "no", "set", "unset"})


def _is_value(value: str) -> bool:
    """A value given to a key-like name, not a placeholder or a variable reference."""
    bare = value.strip("\"'")
    placeholder = bare.lower() in _NOT_SECRET or bare.startswith(("$", "%", "{", "<"))
    return not (placeholder or MASK in bare)


def redact(text: str) -> str:
    """`text` with anything that looks like a credential masked."""
    text = _PRIVATE_KEY.sub(
        lambda m: f"-----BEGIN {m.group(1)}PRIVATE KEY----- {MASK} (redacted)", text
    )
    if "PRIVATE KEY-----" in text and "-----BEGIN" not in text.split("PRIVATE KEY-----")[0]:
        # the block's beginning was cut off before it reached us
        text = _PRIVATE_KEY_END.sub(lambda m: f"{MASK} (private key redacted)", text, count=1)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def last_lines(text: str, *, lines: int = LOG_TAIL_LINES, limit: int = LOG_TAIL_BYTES) -> str:
    """The last `lines` lines of `text` within `limit` bytes of UTF-8 (a cut marked with …)."""
    kept = text.rstrip("\n").splitlines()[-lines:]
    while kept and len("\n".join(kept).encode()) > limit:
        if len(kept) == 1:
            tail = kept[0].encode()[-(limit - len(CUT.encode())) :]
            return CUT + tail.decode(errors="ignore")
        kept.pop(0)
    cut = len(kept) < len(text.rstrip("\n").splitlines())
    joined = "\n".join(kept)
    if cut and len((CUT + "\n" + joined).encode()) <= limit:
        return CUT + "\n" + joined
    return joined


def fit(text: str) -> str:
    """A hook's log tail made fit to send: redacted first (so a cut never splits a secret
    out of sight of the patterns), then its last lines."""
    return last_lines(redact(text or ""))
