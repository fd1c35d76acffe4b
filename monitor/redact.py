"""Secrets out of logs and messages: the one place that decides what in a URL is a secret.

A query (or fragment) parameter is a secret when its name says so: one of its words is a
secret word (`key`, `sig`, `auth`, ...) or its letters hold a secret stem (`token`, `secret`,
`passw`, ...). Names are split into words at punctuation and at case changes, so `api_key`,
`apiKey`, `X-Amz-Signature` and `access_token` are secrets, while `keyword`, `author` and
`monkey` are not. The password in a URL's user-info is a secret too. Their values become
`***`; everything else is kept, so a log line still says what was asked for.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urlsplit

MASK = "***"

# Whole words of a parameter name that mark it as a secret.
SECRET_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "hmac",
        "jwt",
        "key",
        "keys",
        "otp",
        "pass",
        "passphrase",
        "passwd",
        "password",
        "pwd",
        "secret",
        "session",
        "sid",
        "sig",
        "signature",
        "token",
    }
)
# Stems that mark a name as a secret wherever they occur in its letters ("authtoken",
# "APIKEY", "client_secret", "passwort").
SECRET_STEMS = ("token", "secret", "passw", "apikey", "accesskey", "privatekey", "signature",
                "credential", "sessionid", "authkey")  # fmt: skip

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_LETTERS = re.compile(r"[^a-z0-9]")
# `name=` at the start of a query, a fragment, a parameter or a bit of text.
_PARAM = re.compile(r"(?<![^\s?&;#])([^\s=&;#?\"'<>]+)=")
# A secret value runs to the next separator, quote or space ("?" and "=" may be in it).
_VALUE_END = re.compile(r"[\s&;#\"'<>]|$")
# scheme://user:password@ : the password part.
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s/@:?#]*):([^\s/@?#]*)@", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether a parameter called `name` holds a secret (see the module's rule)."""
    name = unquote_plus(name)
    if any(word.lower() in SECRET_WORDS for word in _WORD.findall(name)):
        return True
    letters = _LETTERS.sub("", name.lower())
    return any(stem in letters for stem in SECRET_STEMS)


def _mask_userinfo(m: re.Match[str]) -> str:
    return f"{m.group(1)}:{MASK}@" if m.group(2) else m.group(0)


def redact(text: str) -> str:
    """`text` with the secrets of every URL, query or `name=value` in it masked."""
    if "=" not in text and "@" not in text:
        return text
    text = _USERINFO.sub(_mask_userinfo, text)
    out: list[str] = []
    pos = 0
    while m := _PARAM.search(text, pos):
        end = _VALUE_END.search(text, m.end())
        stop = end.start() if end else len(text)
        if stop > m.end() and is_secret_name(m.group(1)):
            out.append(text[pos : m.end()] + MASK)
            pos = stop
        else:
            # Not a secret: scan on inside the value, which may be a URL with secrets of its own.
            out.append(text[pos : m.end()])
            pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def url_origin(url: str) -> str:
    """Only scheme and host, for URLs whose path itself is a credential (chat webhooks)."""
    parts = urlsplit(url)
    if parts.scheme and parts.hostname:
        return f"{parts.scheme}://{parts.hostname}/…"
    return redact(url)
