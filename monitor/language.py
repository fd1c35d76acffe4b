"""Which of the project's languages a text is in (py3langid, restricted to them).

With all its languages py3langid sometimes answers `ary` for Arabic or `bg` for Russian;
restricted to the languages our sources publish in it made no error on news texts, full or
cut to 200 characters. Its model covers Turkmen and Uzbek in both scripts, and Kazakh in
Cyrillic only: it takes Kazakh in the Latin alphabets of 2018 and 2021 for Turkmen or
Turkish. A Latin text whose letters are those of a Kazakh Latin alphabet, with the letters
only that alphabet writes, is read back into Cyrillic (data/scripts/kk.toml) and counts as
Kazakh when the model agrees on that reading.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import re
import tempfile
from array import array
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from monitor.transliterate import read_back

LANGUAGES = ("ru", "kk", "ky", "tg", "uz", "tk", "az", "tr", "ar", "fa", "fr", "en")

MIN_LETTERS = 12  # below this (a word or two) the model is a coin toss: trust the hint
MAX_CHARS = 600  # the opening of an article decides its language; the model reads it byte by byte
CLEAR = 0.9  # a top probability at least this high is clear evidence; the hint cannot override
WEAK = 0.5  # below this the model is unsure: the hint wins if it is one of our languages
HINT_FLOOR = 0.1  # between WEAK and CLEAR the hint wins only if the model gives it this much

# Letters Persian has and Arabic lacks (پ چ ژ گ, Persian yeh and keheh) and the reverse
# (teh marbuta, Arabic yeh, kaf, alef maksura). The model sometimes swaps the two on short
# texts; a text using only one side's letters settles it.
_PERSIAN_ONLY = frozenset("پچژگیک")
_ARABIC_ONLY = frozenset("ةيكى")


# The model's tokenizer is a 39 MB transition table. Unpacked once per machine into a cache
# file and memory-mapped read-only, it is one copy in the page cache shared by every process
# (the daemon, each analysis worker), and only the rows texts actually reach are read in.
# Texts in our languages reach about a quarter of its rows, spread over the whole file. So
# the pages written while unpacking are dropped from the cache, and the mapping is read
# without read-ahead: otherwise every fault also maps the cached pages around it (64 KB),
# and each process ends up with the whole table resident.
_TABLES = ("nextmove", "rowbase", "output", "ptc", "pc")
_FORMAT = 2  # of the unpacked files; a new one unpacks afresh


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "oic-monitor"


def _tables_dir(root: Path) -> Path:
    key = f"{version('py3langid')} {','.join(LANGUAGES)} {_FORMAT}".encode()
    return root / f"langid-{hashlib.sha256(key).hexdigest()[:12]}"


def _unpack_model(folder: Path) -> None:
    """Write the model's tables, restricted to our languages, as .npy files (atomically:
    processes starting together may race; each writes its own and the last rename wins)."""
    full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    full.set_languages(list(LANGUAGES))
    arrays: dict[str, np.ndarray] = {
        "nextmove": np.frombuffer(full.tk_nextmove, dtype=np.uint32),
        "rowbase": np.asarray(full._rowbase, dtype=np.int64),
        "output": np.asarray(full.tk_output, dtype=np.int32),
        "ptc": np.ascontiguousarray(full.nb_ptc),
        "pc": np.asarray(full.nb_pc),
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    for name, values in arrays.items():
        np.save(work / f"{name}.npy", values)
        _drop_from_cache(work / f"{name}.npy")
    (work / "classes.txt").write_text("\n".join(full.nb_classes), encoding="utf-8")
    try:
        work.rename(folder)
    except OSError:  # another process got there first: its tables are the same
        for f in work.iterdir():
            f.unlink()
        work.rmdir()


def _drop_from_cache(path: Path) -> None:
    """Written to disk and out of the page cache: pages are read back as texts reach them."""
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages would stay cached
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass  # only a hint: the table works the same with its pages cached
    finally:
        os.close(fd)


def _map_table(path: Path) -> np.ndarray:
    """A saved array, memory-mapped read-only and read without read-ahead."""
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran_order, dtype = read_header(f)
        offset = f.tell()
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mmap, "MADV_RANDOM"):
        with contextlib.suppress(OSError):  # only a hint, as above
            mapped.madvise(mmap.MADV_RANDOM)
    count = int(np.prod(shape))
    values = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset)
    return values.reshape(shape, order="F" if fortran_order else "C")


def prepare_model() -> Path | None:
    """Make sure the unpacked tables exist (before worker processes start, so they only
    map them); their folder, or None when no cache folder is writable."""
    for root in (_cache_dir(), Path(tempfile.gettempdir()) / "oic-monitor"):
        folder = _tables_dir(root)
        if not (folder / "classes.txt").exists():
            try:
                _unpack_model(folder)
            except OSError:
                continue
        return folder
    return None


def _mapped_identifier(folder: Path) -> LanguageIdentifier:
    tables = {n: _map_table(folder / f"{n}.npy") for n in _TABLES}
    classes = (folder / "classes.txt").read_text(encoding="utf-8").split("\n")
    identifier = LanguageIdentifier(
        np.asarray(tables["ptc"]),
        np.asarray(tables["pc"]),
        classes,
        tables["nextmove"].data,
        tables["output"].data,
        norm_probs=True,
        tk_row=array("H"),  # only used to build the row offsets, read from the file instead
    )
    identifier._rowbase = tables["rowbase"].data
    return identifier


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    """The model, restricted to our languages, loaded once per process and only read."""
    folder = prepare_model()
    if folder is not None:
        return _mapped_identifier(folder)
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    # It keeps the whole model (100,000 features x 142 languages) to allow another
    # set_languages; this one is final, so only our columns stay in memory.
    identifier._full_model = (identifier.nb_ptc, identifier.nb_pc, identifier.nb_classes)
    return identifier


def normalise_code(code: str | None) -> str | None:
    """'uz-Cyrl', 'ru_RU', 'KK' -> 'uz', 'ru', 'kk'; None for languages we do not know."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else None


def _arabic_script_language(text: str) -> str | None:
    persian = sum(ch in _PERSIAN_ONLY for ch in text)
    arabic = sum(ch in _ARABIC_ONLY for ch in text)
    if persian and not arabic:
        return "fa"
    if arabic and not persian:
        return "ar"
    return None


_LETTER = re.compile(r"[^\W\d_]")


def _has_letters(text: str, n: int) -> bool:
    """Whether ``text`` holds at least ``n`` letters (stops counting there)."""
    return any(i + 1 >= n for i, _ in enumerate(_LETTER.finditer(text)))


def detect(text: str, hint: str | None = None) -> str | None:
    """ISO 639-1 code of the language of ``text``, or None when it cannot be told.

    ``hint`` (a source's declared language) decides only when the text is too short or the
    model is unsure; it never overrides a clear result.
    """
    hint = normalise_code(hint)
    sample = text[:MAX_CHARS]
    if not _has_letters(sample, MIN_LETTERS):
        return hint
    reading = read_back(sample, "kk", expected=hint == "kk")
    if reading is not None and _identifier().rank(reading)[0][0] == "kk":
        return "kk"
    ranked = _identifier().rank(sample)
    best, best_p = ranked[0]
    if best in ("ar", "fa"):
        best = _arabic_script_language(sample) or best
    if best_p >= CLEAR or hint is None or hint == best:
        return best
    hint_p = dict(ranked).get(hint, 0.0)
    if best_p < WEAK or hint_p >= HINT_FLOOR:
        return hint
    return best
