"""One GET made in an analysis worker process, for the main process's Fetcher.

The Fetcher decides every request (robots rules, host limits and spacing, retries,
redirects, cookies) and hands the request itself to a worker, which reads the page, checks
it as the Fetcher would and analyses it there: the page's bytes never pass through the main
process, which then only coordinates and stores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from monitor.fetch import (
    Accept,
    BodyCap,
    Exchanged,
    FetchError,
    FetchResult,
    _Retryable,
    charset,
    check_head,
    http_failure,
)

if TYPE_CHECKING:
    from monitor.config import FetchSettings


@dataclass(frozen=True)
class ClientSettings:
    """What the worker's client takes from the Fetcher, as plain values: the settings
    model itself would make each worker import the configuration's validators."""

    user_agent: str
    connect_timeout: float
    read_timeout: float
    max_bytes: int

    @classmethod
    def of(cls, settings: FetchSettings, user_agent: str) -> ClientSettings:
        return cls(
            user_agent,
            settings.connect_timeout.total_seconds(),
            settings.read_timeout.total_seconds(),
            settings.max_bytes,
        )


_client: httpx.Client | None = None
_deadline = 0.0
_max_bytes = 0


class _Redirected(Exception):
    """Raised from the response hook, as the Fetcher does, so that httpx never parses a
    Location header itself."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.headers["location"])
        self.response = response


def _stop_at_redirect(response: httpx.Response) -> None:
    location = response.headers.get("location")
    if location and 300 <= response.status_code < 400 and response.status_code != 304:
        raise _Redirected(response)


def start(settings: ClientSettings) -> None:
    """The worker's client: the Fetcher's headers and timeouts, no redirects, no cookie jar
    of its own (the Fetcher sends its cookies with each request)."""
    global _client, _deadline, _max_bytes
    connect, read = settings.connect_timeout, settings.read_timeout
    _deadline, _max_bytes = connect + read, settings.max_bytes
    _client = httpx.Client(
        headers={"User-Agent": settings.user_agent},
        timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=read),
        follow_redirects=False,
        event_hooks={"response": [_stop_at_redirect]},
    )


def get(url: str, headers: dict[str, str], accept: Accept) -> tuple[Exchanged, bytes, str | None]:
    """(what came back, the body, its encoding) for one GET; errors are in the Exchanged."""
    assert _client is not None, "worker_fetch.start was not called in this process"
    max_bytes = _max_bytes
    deadline = time.monotonic() + _deadline
    response: httpx.Response | None = None
    try:
        with _client.stream("GET", url, headers=headers) as response:
            head = check_head(url, response.status_code, response.reason_phrase,
                              response.headers, accept, max_bytes)  # fmt: skip
            if isinstance(head, FetchResult):  # 304
                got = _answer(response, etag=head.etag, last_modified=head.last_modified)
                return got, b"", None
            body = BodyCap(url, max_bytes, sniff=accept == "html")
            for chunk in response.iter_bytes():
                body.add(chunk)
                if time.monotonic() > deadline:
                    detail = f"no complete response within {_deadline:g}s"
                    raise _Retryable(FetchError(url, "timeout", detail))
            content = body.done()
            encoding = charset(response.headers.get("content-type"), content, head)
            got = _answer(response, media=head, etag=response.headers.get("etag"),
                          last_modified=response.headers.get("last-modified"))  # fmt: skip
            return got, content, encoding
    except _Redirected as redirect:
        got = _answer(redirect.response, location=redirect.response.headers["location"])
        return got, b"", None
    except _Retryable as failure:
        wait = failure.retry_after
        return _answer(response, error=failure.error, retryable=True, retry_after=wait), b"", None
    except FetchError as e:
        return _answer(response, error=e), b"", None
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        mapped = http_failure(url, e)
        if isinstance(mapped, _Retryable):
            return _answer(response, error=mapped.error, retryable=True), b"", None
        assert isinstance(mapped, FetchError)
        return _answer(response, error=mapped), b"", None
    finally:
        _client.cookies.clear()  # the Fetcher keeps the cookies


def _answer(response: httpx.Response | None, **fields: object) -> Exchanged:
    if response is None:
        return Exchanged(**fields)  # type: ignore[arg-type]
    cookies = tuple(response.headers.get_list("set-cookie"))
    return Exchanged(status=response.status_code, set_cookies=cookies, **fields)  # type: ignore[arg-type]
