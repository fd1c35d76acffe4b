"""Chat and push services through Apprise: Telegram, Matrix, MS Teams, Slack, ntfy and more.

Each URL of a channel is sent to on its own, so one failing service does not make the
others repeat a message they already took: which URLs accepted a message is written into
the retry's error text and read back on the next attempt.

Formats: services that render Markdown get CommonMark (Apprise turns it into each
service's dialect, e.g. Telegram MarkdownV2); the others get plain text. Apprise passes
Markdown through unchanged to text-only services, so the choice is made here per URL.
Length: a single story is fitted to the service's own limit by shortening the evidence
snippet, measured after Apprise's dialect conversion; a digest is split by Apprise into
several messages instead.

Apprise URLs carry tokens: only their scheme is ever shown, and Apprise's own log lines
have URLs masked.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import apprise
from apprise import NotifyFormat, OverflowMode

from monitor.alerts.errors import PermanentError, TemporaryError
from monitor.alerts.message import (
    OperatorNotice,
    Story,
    chat_digest,
    chat_operator,
    chat_story,
    chat_test,
)
from monitor.config import AlertChannel, url_scheme

APP_ID = "oic-monitor"
MIN_SNIPPET = 40  # below this a snippet says nothing; it is dropped instead
FIT_STEPS = 8

_DELIVERED = re.compile(r"\[apprise delivered: ([\d,]*)\]")
_URL_IN_LOG = re.compile(r"\b([a-z][a-z0-9+.-]*)://[^\s'\"]+", re.IGNORECASE)


class _MaskUrls(logging.Filter):
    """Apprise logs the URLs it fails to parse, tokens included; keep only the scheme."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _URL_IN_LOG.sub(r"\1://…", message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def _mask_apprise_logs() -> None:
    logger = logging.getLogger("apprise")
    if not any(isinstance(f, _MaskUrls) for f in logger.filters):
        logger.addFilter(_MaskUrls())


def _asset() -> apprise.AppriseAsset:
    # In memory only: nothing is written under the user's home by a daemon.
    return apprise.AppriseAsset(app_id=APP_ID, storage_mode="memory")


def known_url(url: str) -> bool:
    """Whether Apprise has a service for `url` and can parse it."""
    _mask_apprise_logs()
    return apprise.Apprise.instantiate(url, asset=_asset()) is not None


@dataclass
class _Service:
    index: int  # position in the channel's urls, as remembered across retries
    scheme: str
    plugin: apprise.plugins.NotifyBase

    @property
    def markdown(self) -> bool:
        resolve = getattr(self.plugin, "resolve_format", None)
        if resolve is not None:  # honours a ?format= the URL asks for
            return bool(resolve(NotifyFormat.MARKDOWN) == NotifyFormat.MARKDOWN)
        formats = self.plugin.notify_format
        declared = {formats} if isinstance(formats, str) else set(formats)
        return NotifyFormat.MARKDOWN in declared

    @property
    def format(self) -> NotifyFormat:
        return NotifyFormat.MARKDOWN if self.markdown else NotifyFormat.TEXT

    def rendered_length(self, title: str, body: str) -> int:
        """Length of the body the service would get, title folded in where it has none."""
        if self.plugin.title_maxlen <= 0 and title:
            body = f"# {title}\n{body}" if self.markdown else f"{title}\r\n{body}"
        convert = getattr(self.plugin, "dialect_convert", None)
        if convert is not None and self.markdown:
            body = convert(body, NotifyFormat.MARKDOWN)
        return len(body)

    def fits(self, title: str, body: str) -> bool:
        limit = self.plugin.body_maxlen
        return limit <= 0 or self.rendered_length(title, body) <= limit


def _services(channel: AlertChannel) -> list[_Service]:
    _mask_apprise_logs()
    asset = _asset()
    out = []
    for i, url in enumerate(channel.urls):
        plugin = apprise.Apprise.instantiate(url, asset=asset)
        if plugin is None:
            raise PermanentError(f"urls[{i}]: Apprise cannot use this {url_scheme(url)}:// URL")
        out.append(_Service(i, url_scheme(url), plugin))
    return out


Render = Callable[[_Service], tuple[str, str]]


def fit_story(story: Story, service: _Service) -> tuple[str, str]:
    """The story's (title, body) for one service, within that service's length limit."""
    title, body = chat_story(story, markdown=service.markdown)
    limit = service.plugin.body_maxlen
    if service.fits(title, body):
        return title, body
    # Shorten the snippet by what is still too much; markup may grow it, so measure again.
    budget = len(story.snippet)
    for _ in range(FIT_STEPS):
        budget -= service.rendered_length(title, body) - limit
        if budget < MIN_SNIPPET:
            break
        title, body = chat_story(story, markdown=service.markdown, snippet_limit=budget)
        if service.fits(title, body):
            return title, body
    title, body = chat_story(story, markdown=service.markdown, snippet_limit=0)
    if service.fits(title, body):
        return title, body
    # Only an absurdly long title is left to cut; the body (with the link) stays whole.
    room = max(limit - service.rendered_length("", body) - 8, 16)
    return title[:room].rstrip() + " …", body


def delivered_before(errors: Sequence[str | None]) -> set[int]:
    """URL positions every given row had already delivered to (from their last errors)."""
    sets = []
    for error in errors:
        m = _DELIVERED.search(error or "")
        sets.append({int(i) for i in m.group(1).split(",") if i} if m else set())
    return set.intersection(*sets) if sets else set()


def _send_all(
    channel: AlertChannel, render: Render, done: set[int], split: bool
) -> tuple[list[_Service], list[_Service], int]:
    """Send to every URL of the channel not in `done`: (accepted, refused, URLs in all)."""
    services = _services(channel)
    accepted: list[_Service] = []
    refused: list[_Service] = []
    for svc in services:
        if svc.index in done:
            continue
        title, body = render(svc)
        most = svc.plugin.title_maxlen
        if 0 < most < len(title):
            title = title[: most - 2].rstrip() + " …"
        if split:
            svc.plugin.overflow_mode = OverflowMode.SPLIT
        ap = apprise.Apprise(asset=svc.plugin.asset)
        ap.add(svc.plugin)
        ok = ap.notify(body=body, title=title, body_format=svc.format)
        (accepted if ok else refused).append(svc)
    return accepted, refused, len(services)


async def _deliver(
    channel: AlertChannel, render: Render, *, previous: Sequence[str | None], split: bool = False
) -> str:
    done = delivered_before(previous)
    # Apprise is synchronous (requests, and a slow first load of its plugins): a thread
    # keeps polling and the other channels moving.
    accepted, refused, total = await asyncio.to_thread(_send_all, channel, render, done, split)
    done |= {s.index for s in accepted}
    sent = ", ".join(s.scheme for s in accepted) or "none new"
    if not refused:
        return f"apprise: sent to {sent} ({len(done)} of {total})"
    failed = ", ".join(f"{s.scheme}#{s.index}" for s in refused)
    # The marker keeps a retry from repeating the message to the services that took it.
    marker = f" [apprise delivered: {','.join(map(str, sorted(done)))}]" if done else ""
    raise TemporaryError(f"apprise: not accepted by {failed}{marker}")


async def send_story(channel: AlertChannel, story: Story, *, previous: Sequence[str | None]) -> str:
    return await _deliver(channel, lambda svc: fit_story(story, svc), previous=previous)


async def send_digest(
    channel: AlertChannel, stories: Sequence[Story], *, previous: Sequence[str | None]
) -> str:
    return await _deliver(
        channel, lambda svc: chat_digest(stories, markdown=svc.markdown), previous=previous,
        split=True,
    )  # fmt: skip


async def send_operator(
    channel: AlertChannel, notice: OperatorNotice, *, previous: Sequence[str | None]
) -> str:
    return await _deliver(
        channel, lambda svc: chat_operator(notice, markdown=svc.markdown), previous=previous
    )


async def send_test(channel: AlertChannel) -> str:
    return await _deliver(channel, lambda svc: chat_test(), previous=())
