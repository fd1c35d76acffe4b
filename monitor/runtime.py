"""The long-lived parts one command needs, built once from the settings and closed together."""

from __future__ import annotations

from types import TracebackType

from monitor.classify import LexiconClassifier
from monitor.config import Settings
from monitor.fetch import Fetcher
from monitor.pipeline import Pipeline
from monitor.store.repo import Store


def load_classifier(settings: Settings) -> LexiconClassifier:
    from monitor.classify.engine import load_classifier as load

    return load(settings.lexicon)


class Runtime:
    """Store, HTTP client, classifier and pipeline for one process."""

    def __init__(self, settings: Settings, *, fetch: bool = True) -> None:
        """``fetch=False``: no HTTP client, for commands that read no web page (import)."""
        self.settings = settings
        self.store = Store.open(settings.storage.url)
        self.classifier = load_classifier(settings)
        self._fetcher = Fetcher(settings.fetch) if fetch else None
        self.pipeline = Pipeline(settings, self.store, self._fetcher, self.classifier)

    @property
    def fetcher(self) -> Fetcher:
        return self.pipeline.fetcher

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fetcher is not None:
            await self._fetcher.aclose()
        self.pipeline.articles.close()
        self.store.close()
