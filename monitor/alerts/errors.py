"""Why a channel did not take a message: worth retrying, or not."""

from __future__ import annotations


class DeliveryError(Exception):
    """A channel did not accept a message. `detail` is safe to log (no secrets)."""

    permanent = False

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after  # seconds the receiver asked us to wait


class TemporaryError(DeliveryError):
    """Network trouble, a busy or broken receiver, or our own environment: try again later."""


class PermanentError(DeliveryError):
    """The receiver refused this message; sending it again would get the same answer."""

    permanent = True
