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

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store.open(settings.storage.url)
        self.classifier = load_classifier(settings)
        self.fetcher = Fetcher(settings.fetch)
        self.pipeline = Pipeline(settings, self.store, self.fetcher, self.classifier)

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.fetcher.aclose()
        self.store.close()
