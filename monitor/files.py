"""Files a user names: text read in the encodings people save it in, output paths checked
before anything is written. Every problem is an `InputError` naming the path.

Text is UTF-8 (with or without a byte order mark), UTF-16 or UTF-32 with a byte order mark,
or else the most likely of the legacy code pages of this project's languages (Cyrillic
windows-1251, KOI8-R and DOS 866; Western, Turkish and Arabic windows-125x), then of any
code page charset-normalizer knows. Data with NUL bytes, or that no code page explains, is
refused as binary.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from monitor.errors import InputError

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Tried, in this order of preference, when the bytes are not UTF-8.
LEGACY_CODE_PAGES = ("cp1251", "koi8_r", "cp866", "cp1252", "cp1254", "cp1256")
# How much of the start is searched for NUL bytes, the mark of binary data.
_SNIFF_BYTES = 8192


class NotText(InputError):
    """The data is binary, or in no encoding it could be read in."""


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte order mark at the start of `data` names, if any."""
    for bom, name in BOMS:
        if data.startswith(bom):
            return name
    return None


def decode_text(data: bytes, name: str) -> str:
    """`data` as text (see the module docstring) with its line ends made "\\n", as Python's
    text files read them; NotText naming `name` if it is not text."""
    text = _decode(data, name)
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _decode(data: bytes, name: str) -> str:
    encoding = bom_encoding(data)
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            raise NotText(f"{name}: not readable as {encoding.upper()} text") from None
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise NotText(f"{name}: binary data, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    import charset_normalizer  # only for text that is not UTF-8

    best = charset_normalizer.from_bytes(data, cp_isolation=list(LEGACY_CODE_PAGES)).best()
    if best is None:  # text in some other language's code page, or binary
        best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise NotText(f"{name}: binary data, or text in an encoding it cannot tell")
    return str(best)


def os_reason(e: OSError) -> str:
    """A short reason for a failed file operation, without the path Python repeats."""
    if isinstance(e, FileNotFoundError):
        return "not found"
    if isinstance(e, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(e, NotADirectoryError):
        return "a part of the path is a file, not a folder"
    if isinstance(e, PermissionError):
        return "permission denied"
    return e.strerror or str(e)


def read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"{path}: {os_reason(e)}") from None


def read_text(path: Path) -> str:
    """The text of a file the user named, decoded as a person would expect."""
    return decode_text(read_bytes(path), str(path))


def output_folder(path: Path) -> Path:
    """Create `path` (and its parents) for writing into; InputError if that cannot be."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{path}: cannot create the folder: {os_reason(e)}") from None
    return path


def write_output(path: Path, data: bytes) -> None:
    """Write a file the user named for output (replacing one that is there)."""
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise InputError(f"{path}: cannot write: {os_reason(e)}") from None
