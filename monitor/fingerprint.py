"""Text normalisation, the content hash that names every item, near-duplicate signatures."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib

import numpy as np


def normalize_text(text: str) -> str:
    """Unicode NFC, every whitespace run to one space, trimmed."""
    # str.split() splits on exactly the characters the regex \s matches (both ask
    # Py_UNICODE_ISSPACE), so the hashes are those of re.sub(r"\s+", " ", ...).strip(),
    # at 0.4 of its time.
    return " ".join(unicodedata.normalize("NFC", text).split())


def content_hash(text: str) -> str:
    """First 16 hex characters of SHA-256 over the normalised text."""
    return _hash(normalize_text(text))


def hash_and_signature(text: str) -> tuple[str, np.ndarray]:
    """``content_hash`` and ``signature`` of one text, normalised once."""
    normal = normalize_text(text)
    return _hash(normal), _minhash(_shingles(normal))


def _hash(normal: str) -> str:
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


# --- near-duplicate signatures -------------------------------------------------
#
# MinHash over word 4-shingles, 128 permutations cut into 32 LSH bands of 4 rows.
# Measured on republished variants of the seed articles (new title, an added first
# sentence, the last paragraph dropped): shingle Jaccard 0.83-0.89 to the original, while
# an independent report of the same meeting scored 0.01-0.02. 32x4 bands make a pair at
# Jaccard 0.5 a candidate 87 % of the time and at 0.6 99 %, while pairs below 0.2 almost
# never are. SimHash would need only a few band rows per item but separates a dropped
# paragraph from a different article less cleanly. Each band is one indexed row in the
# database, so finding candidates costs a handful of index probes whatever the table size.

SHINGLE_WORDS = 4
NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
_WORD = re.compile(r"\w+")

# The MinHash of datasketch 2 (its default "affine32" scheme, seed 1, CRC-32 of each
# shingle), written out because importing datasketch loads scipy: 55 MB more in every
# process for a dozen lines of numpy. tests/test_stories.py checks it value for value.
_EMPTY = np.uint32(0xFFFFFFFF)
_FMIX = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))


def _permutations(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """h -> a*h + b (mod 2**32) with odd a: NUM_PERM random bijections of 32-bit values."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


_A, _B = _permutations()


def shingles(text: str) -> set[bytes]:
    return _shingles(normalize_text(text))


def _shingles(normal: str) -> set[bytes]:
    words = _WORD.findall(normal.lower())
    if len(words) < SHINGLE_WORDS:
        return {" ".join(words).encode()} if words else set()
    runs = zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)  # to the shortest
    return {" ".join(run).encode() for run in runs}


def signature(text: str) -> np.ndarray:
    """MinHash of the text's shingles: NUM_PERM unsigned 32-bit values."""
    return _minhash(shingles(text))


def _minhash(found: set[bytes]) -> np.ndarray:
    if not found:
        return np.full(NUM_PERM, _EMPTY, dtype=np.uint32)
    h = np.fromiter((zlib.crc32(s) for s in found), dtype=np.uint32, count=len(found))
    shift1, mul1, shift2, mul2 = _FMIX  # MurmurHash3's finalizer spreads the CRCs first
    h ^= h >> shift1
    h *= mul1
    h ^= h >> shift2
    h *= mul2
    h ^= h >> shift1
    return (h[:, None] * _A + _B).min(axis=0)


def band_keys(sig: np.ndarray) -> list[int]:
    """One signed 64-bit key per band (band number mixed in), for an indexed lookup."""
    keys = []
    for b in range(BANDS):
        digest = hashlib.blake2b(
            sig[b * ROWS : (b + 1) * ROWS].tobytes(), digest_size=8, person=b"band%04d" % b
        ).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets."""
    return float(np.count_nonzero(a == b)) / len(a)


def pack(sig: np.ndarray) -> bytes:
    return sig.astype("<u4").tobytes()


def unpack(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)
