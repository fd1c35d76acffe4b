"""Whether a change to the extraction stage changed what it extracts.

    .venv/bin/python bench/check_extract.py --save /tmp/before.pickle     # on the old code
    .venv/bin/python bench/check_extract.py --compare /tmp/before.pickle  # on the new code

Runs monitor.extract.extract over every page bench_backfill.py generated and every HTML
page under tests/data, with no language hint and with "kk", and language detection over
the evaluation texts with three hints; saves every result, or prints how many differ from
the saved ones (and the first few). A speed-up should leave that count at 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def results() -> dict[tuple[Any, ...], Any]:
    from monitor import language
    from monitor.extract import PageTooComplex, extract

    pages = sorted((ROOT / "bench" / "out" / "backfill_site").glob("**/*.html"))
    pages += sorted((ROOT / "tests" / "data").glob("**/*.html"))
    out: dict[tuple[Any, ...], Any] = {}
    for path in pages:
        html = path.read_text(encoding="utf-8", errors="replace")
        for hint in (None, "kk"):
            key = (str(path.relative_to(ROOT)), hint)
            try:
                found = extract(html, "https://x.invalid/2024/01/02/a", language_hint=hint)
                out[key] = dataclasses.asdict(found) if found else None
            except PageTooComplex as e:
                out[key] = str(e)
    eval_file = ROOT / "tests" / "data" / "eval" / "oic_eval.jsonl"
    for i, line in enumerate(eval_file.read_text(encoding="utf-8").splitlines()):
        text = json.loads(line)["text"]
        for hint in (None, "kk", "tr"):
            out[("eval", i, hint)] = language.detect(text, hint)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path)
    group.add_argument("--compare", type=Path)
    args = ap.parse_args()
    found = results()
    if args.save:
        args.save.write_bytes(pickle.dumps(found))
        print(f"saved {len(found)} results to {args.save}")
        return
    before = pickle.loads(args.compare.read_bytes())
    differ = [k for k in before.keys() | found.keys() if before.get(k) != found.get(k)]
    print(f"{len(found)} results, {len(differ)} differ from {args.compare}")
    for key in differ[:5]:
        print(f"  {key}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
