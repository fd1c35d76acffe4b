"""Classifying without the pipeline: classify (one text, JSON lines, an evaluation set) and
reclassify (stored items, after a lexicon change)."""

from __future__ import annotations

import json
import sys
from io import BufferedReader
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from monitor.cli.base import (
    EXIT_USAGE,
    Since,
    app,
    day_start,
    fail,
    globals_of,
    open_store,
    print_table,
    say,
    settings_of,
    warn,
)
from monitor.cli.render import table
from monitor.display import counted

if TYPE_CHECKING:
    from monitor.classify import LexiconClassifier

_SNIFF = 8192  # bytes of a JSON lines input looked at for the NUL bytes of binary data


@app.command()
def classify(
    ctx: typer.Context,
    file: Annotated[
        str | None, typer.Argument(metavar="FILE", help="A text file, or - for standard input.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    jsonl: Annotated[
        bool,
        typer.Option(
            "--jsonl",
            help='FILE (or -) holds one {"id", "text", "title", "language"} object a line; '
            "one result a line is written for each.",
        ),
    ] = False,
    eval_path: Annotated[
        Path | None,
        typer.Option("--eval", metavar="PATH", help="Score a labelled JSONL evaluation set."),
    ] = None,
) -> None:
    """Classify a text, JSON lines of texts, or an evaluation set.

    One text gets its tier, score, evidence and notes on terms that did not count.
    Text files may be UTF-8, UTF-16 with a byte order mark, or a legacy code page such as
    windows-1251 or KOI8-R. With --jsonl a bad line gets an {"id", "line", "error"} object
    in its place and one line on standard error; the others are classified, and the exit
    status is then 2.
    """
    clf = _classifier(ctx)
    if eval_path is not None:
        _evaluate(clf, eval_path, as_json)
        return
    if file is None:
        fail("give a FILE, - for standard input, or --eval PATH")
    if jsonl:
        _classify_jsonl(clf, file)
        return
    from monitor.classify import classification_to_dict, format_classification
    from monitor.files import decode_text, read_text

    text = decode_text(sys.stdin.buffer.read(), "standard input") if file == "-" else None
    verdict = clf.classify(None, text if text is not None else read_text(Path(file)))
    if as_json:
        say(json.dumps(classification_to_dict(verdict), ensure_ascii=False, indent=2))
    else:
        say(format_classification(verdict))


def _classifier(ctx: typer.Context) -> LexiconClassifier:
    """The config's lexicon when there is a config; the built-in one otherwise."""
    from monitor.classify.engine import load_classifier

    g = globals_of(ctx)
    return load_classifier(g.settings.lexicon if g.has_config else None)


def _evaluate(clf: LexiconClassifier, path: Path, as_json: bool) -> None:
    from monitor.classify.evaluate import evaluate, parse_eval_set
    from monitor.errors import InputError
    from monitor.files import read_text

    try:
        cases = parse_eval_set(read_text(path), str(path))
    except ValueError as e:
        raise InputError(str(e)) from None
    report = evaluate(cases, clf)
    say(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if as_json else report.format())


def _classify_jsonl(clf: LexiconClassifier, file: str) -> None:
    from monitor.errors import InputError
    from monitor.files import os_reason
    from monitor.services.classify import classify_lines

    name = "standard input" if file == "-" else file
    stdin = cast(BufferedReader, sys.stdin.buffer)
    try:
        stream = stdin if file == "-" else open(file, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise InputError(f"{file}: {os_reason(e)}") from None
    bad = 0
    write = sys.stdout.write
    with stream:
        try:
            if b"\x00" in stream.peek(_SNIFF)[:_SNIFF]:
                raise InputError(f"{name}: binary data (or UTF-16), not UTF-8 JSON lines")
            for result in classify_lines(stream, clf):
                if result.error:
                    bad += 1
                    warn(f"{name}: {result.error}")
                write(json.dumps(result.record, ensure_ascii=False) + "\n")
        except OSError as e:  # a folder opens, then fails to read
            raise InputError(f"{file}: {os_reason(e)}") from None
    if bad:
        raise typer.Exit(EXIT_USAGE)


@app.command()
def reclassify(
    ctx: typer.Context,
    since: Since = None,
) -> None:
    """Re-score stored items with the current lexicon.

    Reports how many items moved between tiers; sends no alerts.
    """
    from monitor.classify.engine import load_classifier
    from monitor.services.reclassify import reclassify as rescore

    settings = settings_of(ctx)
    clf = load_classifier(settings.lexicon)
    with open_store(settings) as store:
        done = rescore(store, clf, day_start(since))
    t = table("from", "to", "items")
    for (old, new), count in sorted(done.moved.items()):
        t.add_row(old, new, str(count), style=None if old == new else "bold")
    print_table(t)
    scored = counted(done.scored, "item")
    say(f"re-scored {scored} with lexicon {done.version}; {done.changed} changed tier")
