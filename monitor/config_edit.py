"""Edit the [[sources]] of a config file in place, keeping its comments and layout (tomlkit).

Every edit is validated as a whole config before the file is written, and the file is
replaced atomically, so a failed edit leaves the old file as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Comment, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from monitor.config import Settings, Source, config_text, settings_from_dict
from monitor.errors import ConfigEditError, ConfigError
from monitor.files import os_reason
from monitor.urls import canonical_url, host_of

NAME_CHARS = 40  # a derived source name is cut to this many characters


def source_name(title: str | None, url: str, taken: Collection[str]) -> str:
    """A valid, unused source name from a title ("Kazinform News" -> "kazinform-news").

    Falls back to the URL's host when the title has no Latin letters or digits, and adds
    "-2", "-3"... until the name is free.
    """
    base = _slug(title or "") or _slug(host_of(url).removeprefix("www.")) or "source"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base[: NAME_CHARS - len(str(n)) - 1]}-{n}"
    return name


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9.]+", "-", ascii_text.lower()).strip("-.")
    return slug[:NAME_CHARS].rstrip("-.")


def duplicate_of(url: str, sources: Iterable[Source]) -> Source | None:
    """The configured source whose URL is the same page as `url`, if any."""
    key = canonical_url(url)
    return next((s for s in sources if canonical_url(s.url) == key), None)


def read_document(path: Path) -> TOMLDocument:
    text = config_text(path)
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def add_sources(path: Path, tables: Iterable[Mapping[str, Any]]) -> Settings:
    """Append one [[sources]] table per mapping; returns the validated new settings.

    Raises ConfigEditError for a name or canonical URL that is already configured.
    """
    doc = read_document(path)
    current = _validate(doc, path)
    names = {s.name for s in current.sources}
    urls = {canonical_url(s.url): s.name for s in current.sources}
    sources = doc.get("sources")
    if sources is None:
        sources = tomlkit.aot()
        doc.append("sources", sources)
    elif not isinstance(sources, AoT):
        raise ConfigEditError(f"{path}: 'sources' is not written as [[sources]] tables")
    for fields in tables:
        name, url = str(fields["name"]), str(fields["url"])
        if name in names:
            raise ConfigEditError(f"a source named {name!r} already exists")
        if (key := canonical_url(url)) in urls:
            raise ConfigEditError(f"{url} is already configured as source {urls[key]!r}")
        names.add(name)
        urls[key] = name
        table = tomlkit.table()
        for k, v in fields.items():
            if v is not None and v != []:
                table[k] = v
        table.add(tomlkit.nl())
        _separate(sources)
        sources.append(table)
    new = _validate(doc, path)
    _write(path, doc)
    return new


def remove_source(path: Path, name: str) -> None:
    """Delete the [[sources]] table named `name`; comments of the tables around it stay."""
    doc = read_document(path)
    sources = doc.get("sources")
    index = None
    if isinstance(sources, AoT):
        index = next((i for i, t in enumerate(sources) if t.get("name") == name), None)
    if sources is None or index is None:
        raise ConfigEditError(f"no source named {name!r} in {path}")
    tables: list[Table] = list(sources)
    # tomlkit keeps a comment written above a table at the end of the table before it, so
    # the comment above the next table moves to the end of whatever precedes this one.
    trailing = _trailing_trivia(tables[index]) if index + 1 < len(tables) else []
    before = tables[index - 1] if index > 0 else _table_before(doc, "sources")
    if trailing and before is not None:
        before.value.body.extend(trailing)
    del sources[index]
    _validate(doc, path)
    _write(path, doc)


def _table_before(doc: TOMLDocument, key: str) -> Table | None:
    previous = None
    for k, item in doc.body:
        if k is not None and k.key == key:
            return previous if isinstance(previous, Table) else None
        if k is not None:
            previous = item
    return None


def _trailing_trivia(table: Table) -> list[tuple[Any, Any]]:
    body = table.value.body
    n = len(body)
    while n and body[n - 1][0] is None and isinstance(body[n - 1][1], (Comment, Whitespace)):
        n -= 1
    trailing = body[n:]
    if not any(isinstance(item, Comment) for _, item in trailing):
        return []
    return list(trailing)


def _separate(sources: AoT) -> None:
    """A blank line after the last table, so an appended one does not touch it."""
    if len(sources):
        last: Table = sources[-1]
        body = last.value.body
        if not body or not (body[-1][0] is None and isinstance(body[-1][1], Whitespace)):
            last.add(tomlkit.nl())


def _validate(doc: TOMLDocument, path: Path) -> Settings:
    return settings_from_dict(doc.unwrap(), path)


def _write(path: Path, doc: TOMLDocument) -> None:
    text = tomlkit.dumps(doc).rstrip("\n") + "\n"
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:
        raise ConfigEditError(f"{path}: cannot write the config: {os_reason(e)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
