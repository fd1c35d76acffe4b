"""What analysts write: relevance marks on items, read state and stars on stories, and
saved searches. Each belongs to one analyst (`SHARED_ANALYST` for a shared token)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from monitor.store.models import Feedback, Item, SavedSearch, StoryState, utcnow
from monitor.store.repo import Store

LABELS = ("relevant", "not_relevant")


@dataclass(frozen=True)
class Mark:
    item: Item
    label: str
    analyst: str
    at: datetime


# --- relevance marks ------------------------------------------------------------------


def set_feedback(store: Store, item_id: int, label: str | None, analyst: str) -> bool:
    """Record (or with None, withdraw) `analyst`'s label; False if there is no such item."""
    if label is not None and label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    with store.session() as s:
        if s.get(Item, item_id) is None:
            return False
        fb = s.exec(
            select(Feedback).where(Feedback.item_id == item_id, Feedback.analyst == analyst)
        ).first()
        if label is None:
            if fb is not None:
                s.delete(fb)
        elif fb is None:
            s.add(Feedback(item_id=item_id, label=label, analyst=analyst))
        else:
            fb.label, fb.created_at = label, utcnow()
            s.add(fb)
        s.commit()
    return True


def feedback_for(store: Store, item_ids: Sequence[int], analyst: str) -> dict[int, str]:
    """`analyst`'s labels on these items."""
    if not item_ids:
        return {}
    with store.session() as s:
        rows = s.exec(
            select(Feedback.item_id, Feedback.label).where(
                col(Feedback.item_id).in_(item_ids), Feedback.analyst == analyst
            )
        )
        return dict(rows.all())


def marks(store: Store) -> list[Mark]:
    """Every mark of every analyst, oldest first."""
    with store.session() as s:
        rows = s.exec(
            select(Item, Feedback)
            .join(Feedback, col(Feedback.item_id) == col(Item.id))
            .order_by(col(Feedback.created_at), col(Feedback.id))
        )
        return [Mark(item, fb.label, fb.analyst, fb.created_at) for item, fb in rows]


def verdicts(all_marks: Sequence[Mark]) -> list[tuple[Item, str]]:
    """One label per item, the latest mark's, in the order of those marks."""
    latest: dict[int, Mark] = {}
    for m in all_marks:
        latest.pop(m.item.id or 0, None)  # re-inserted last: keeps the order of latest marks
        latest[m.item.id or 0] = m
    return [(m.item, m.label) for m in latest.values()]


def labelled_items(store: Store) -> list[tuple[Item, str]]:
    """Every marked item with its label (the latest analyst's), oldest mark first."""
    return verdicts(marks(store))


# --- read state and stars -------------------------------------------------------------


def _set_state(store: Store, analyst: str, story_id: int, **values: datetime | None) -> None:
    for attempt in (1, 2):
        with store.session() as s:
            state = s.get(StoryState, (analyst, story_id))
            if state is None:
                state = StoryState(analyst=analyst, story_id=story_id)
            for name, value in values.items():
                setattr(state, name, value)
            s.add(state)
            try:
                s.commit()
                return
            except IntegrityError:  # created by another request meanwhile: update that one
                if attempt == 2:
                    raise


def set_read(store: Store, analyst: str, story_id: int, read: bool = True) -> None:
    _set_state(store, analyst, story_id, read_at=utcnow() if read else None)


def set_starred(store: Store, analyst: str, story_id: int, starred: bool = True) -> None:
    _set_state(store, analyst, story_id, starred_at=utcnow() if starred else None)


# --- saved searches -------------------------------------------------------------------


def save_search(store: Store, analyst: str, name: str, query: str) -> SavedSearch:
    """Save `query` (URL-encoded filters) under `name`, replacing one of the same name."""
    with store.session() as s:
        saved = s.exec(
            select(SavedSearch).where(SavedSearch.analyst == analyst, SavedSearch.name == name)
        ).first()
        if saved is None:
            saved = SavedSearch(analyst=analyst, name=name, query=query)
        else:
            saved.query = query
        s.add(saved)
        s.commit()
        s.refresh(saved)
        return saved


def saved_searches(store: Store, analyst: str) -> list[SavedSearch]:
    with store.session() as s:
        q = select(SavedSearch).where(SavedSearch.analyst == analyst)
        return list(s.exec(q.order_by(col(SavedSearch.name))))


def saved_search(store: Store, analyst: str, search_id: int) -> SavedSearch | None:
    """One of `analyst`'s saved searches; None when there is no such one of theirs."""
    with store.session() as s:
        saved = s.get(SavedSearch, search_id)
        return saved if saved is not None and saved.analyst == analyst else None


def delete_search(store: Store, analyst: str, search_id: int) -> bool:
    """Delete one of `analyst`'s saved searches; False when there is no such one of theirs."""
    with store.session() as s:
        saved = s.get(SavedSearch, search_id)
        if saved is None or saved.analyst != analyst:
            return False
        s.delete(saved)
        s.commit()
        return True
