"""Prometheus metrics of one daemon process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class WebMetrics:
    """What the dashboard counts: wrong access tokens, and requests refused for them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.token_failures = Counter(
            "oic_web_token_failures", "Dashboard requests with a wrong access token", registry=r
        )
        self.refused = Counter(
            "oic_web_refused",
            "Dashboard requests refused (429) from an address with too many wrong tokens",
            registry=r,
        )


class Metrics:
    """One registry per process (tests start several daemons in one interpreter)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "oic_polls", "Source polls by outcome", ["source", "outcome"], registry=r
        )
        self.items = Counter("oic_items_stored", "Items stored", ["source"], registry=r)
        self.article_errors = Counter(
            "oic_article_errors", "Article fetch failures", ["source", "reason"], registry=r
        )
        self.alerts_sent = Counter("oic_alerts_sent", "Alerts delivered", registry=r)
        self.alerts_failed = Counter(
            "oic_alerts_failed", "Alert delivery attempts that failed", registry=r
        )
        self.alerts_queued = Gauge(
            "oic_alerts_queued", "Alerts waiting in the outbox", ["channel"], registry=r
        )
        self.queue_age = Gauge(
            "oic_alert_queue_age_seconds", "Age of the oldest queued alert", registry=r
        )
        self.open_gaps = Gauge(
            "oic_open_gaps", "Gaps in a source's record not filled yet", ["source"], registry=r
        )
        self.last_success = Gauge(
            "oic_source_last_success_timestamp", "Last successful poll", ["source"], registry=r
        )
        self.daemons_live = Gauge(
            "oic_daemons_live", "Daemons sharing the sources, this one included", registry=r
        )
        self.sources_owned = Gauge(
            "oic_sources_owned", "Sources this daemon polls in the split", registry=r
        )
        self.web = WebMetrics(r)
