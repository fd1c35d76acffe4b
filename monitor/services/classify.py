"""`classify --jsonl`: many texts scored in one process, one JSON object a line each way.

In: {"id": ..., "text": "...", "title": "..." (optional), "language": "ru" (optional)}.
Out, in the same order: {"id", "tier", "relevance", "relevant", "lexicon_version",
"evidence", "notes"}; for a line that cannot be used, {"id" (when it could be read),
"line", "error"} instead, so that output line N always answers input line N (blank input
lines aside).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from monitor.classify import Classifier, classification_to_dict


@dataclass(frozen=True)
class LineResult:
    line: int
    record: dict[str, Any]
    error: str | None = None  # why the line was not classified


class BadLine(ValueError):
    pass


def classify_lines(lines: Iterable[bytes | str], classifier: Classifier) -> Iterator[LineResult]:
    """One result per non-blank line; a bad line yields an error result and the run goes on."""
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        case_id: Any = None
        try:
            case = json.loads(raw)
            if not isinstance(case, dict):
                raise BadLine(f"expected a JSON object, got {type(case).__name__}")
            case_id = case.get("id")
            text, title, language = _fields(case)
        except ValueError as e:  # JSON syntax, bad UTF-8 or a missing field
            why = f"line {number}: {_reason(e)}"
            yield LineResult(number, {"id": _plain(case_id), "line": number, "error": why}, why)
            continue
        verdict = classifier.classify(title, text, language)
        yield LineResult(number, {"id": case_id, **classification_to_dict(verdict)})


def _fields(case: dict[str, Any]) -> tuple[str, str | None, str | None]:
    if "id" not in case:
        raise BadLine('no "id"')
    if isinstance(case["id"], (dict, list)):
        raise BadLine('"id" must be a string or a number')
    text = case.get("text")
    if not isinstance(text, str):
        raise BadLine('"text" must be a string' if "text" in case else 'no "text"')
    title, language = case.get("title"), case.get("language")
    for key, value in (("title", title), ("language", language)):
        if value is not None and not isinstance(value, str):
            raise BadLine(f'"{key}" must be a string')
    return text, title, language


def _reason(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"not JSON ({e.msg} at column {e.colno})"
    if isinstance(e, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(e)


def _plain(value: Any) -> Any:
    """An id fit to echo back: a string, number or null."""
    return value if isinstance(value, (str, int, float)) or value is None else None
