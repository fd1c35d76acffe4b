"""`/healthz` and `/metrics` for `run --http HOST:PORT`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.web.security import SecuredStarlette

if TYPE_CHECKING:
    from monitor.scheduler import Daemon

# An alert older than this in the queue means delivery is stuck.
STUCK_QUEUE_SECONDS = 3600


def health_app(daemon: Daemon) -> Starlette:
    async def healthz(_: Request) -> JSONResponse:
        assert daemon.rt is not None
        store = daemon.rt.store
        try:
            await asyncio.to_thread(store.ping)
            stats = await asyncio.to_thread(store.outbox_stats)
            db_ok = True
        except Exception as e:  # noqa: BLE001 - any failure means "unreachable" here
            db_ok, stats = False, {}
            error = type(e).__name__
        oldest = min((v[1] for v in stats.values() if v[1] is not None), default=None)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        body = {
            "scheduler": daemon.scheduler.running,
            "database": db_ok,
            "queued_alerts": sum(v[0] for v in stats.values()),
            "queue_age_seconds": round(age, 1),
            "sources": sum(1 for s in daemon.settings.sources if s.enabled),
        }
        if not db_ok:
            body["database_error"] = error
        healthy = daemon.scheduler.running and db_ok and age < STUCK_QUEUE_SECONDS
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def metrics(_: Request) -> Response:
        assert daemon.rt is not None
        try:
            stats = await asyncio.to_thread(daemon.rt.store.outbox_stats)
        except Exception:  # noqa: BLE001 - metrics still answer without the database
            stats = {}
        now = datetime.now(UTC)
        daemon.metrics.queue_age.set(
            max(((now - v[1]).total_seconds() for v in stats.values() if v[1]), default=0.0)
        )
        for channel, (count, _oldest) in stats.items():
            daemon.metrics.alerts_queued.labels(channel).set(count)
        try:
            gaps = await asyncio.to_thread(daemon.rt.store.gaps, status="open")
        except Exception:  # noqa: BLE001 - metrics still answer without the database
            gaps = []
        for source in daemon.settings.sources:
            daemon.metrics.open_gaps.labels(source.name).set(
                sum(1 for g in gaps if g.source == source.name)
            )
        return metrics_response(daemon.metrics.registry)

    return SecuredStarlette(routes=[Route("/healthz", healthz), Route("/metrics", metrics)])


def metrics_response(registry: CollectorRegistry) -> Response:
    """The registry in Prometheus' text format."""
    return Response(
        generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
