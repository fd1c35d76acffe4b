"""The command line as a user runs it: exit codes, messages, import, demo."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli.main import run_cli
from monitor.fingerprint import content_hash
from tests.conftest import SEEDS_DIR


def cli(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "250"},
    )


def config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(f'[storage]\nurl = "sqlite:///monitor.db"\n{extra}', encoding="utf-8")
    return cfg


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = config(tmp_path, '[[sources]]\nname = "x"\nurl = "https://a.kz/rss"\ninterval = "soon"\n')
    result = cli("--config", str(cfg), "poll")
    assert result.returncode == 2
    assert "sources[0] (x).interval" in result.stderr
    assert str(cfg) in result.stderr.replace("\n", "")


def test_missing_config_exits_2(tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "none.toml"), "items")
    assert result.returncode == 2
    assert "not found" in result.stderr


def test_import_seeds_recomputes_their_hashes(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    result = cli("--config", str(cfg), "import", str(SEEDS_DIR))
    assert result.returncode == 0, result.stderr
    rows = [
        json.loads(x)
        for x in cli("--config", str(cfg), "items", "--format", "jsonl").stdout.splitlines()
    ]
    files = sorted(SEEDS_DIR.glob("*.txt"))
    assert len(rows) == len(files) == 5
    expected = {content_hash(f.read_text(encoding="utf-8")) for f in files}
    assert {r["content_hash"] for r in rows} == expected
    assert {r["language"] for r in rows} == {"ru", "kk", "fr"}
    assert all(r["alerted"] is False for r in rows)
    # A second import stores nothing new.
    cli("--config", str(cfg), "import", str(SEEDS_DIR))
    again = cli("--config", str(cfg), "items", "--format", "jsonl").stdout.splitlines()
    assert len(again) == 5


def test_import_summary_counts_each_file_taken_as_new(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    result = cli("--config", str(cfg), "import", str(SEEDS_DIR))
    assert result.returncode == 0, result.stderr
    row = next(ln for ln in result.stdout.splitlines() if "│ import" in ln)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:4] == ["import", "5", "5", "5"]  # source, listed, new, stored


def test_since_takes_undated_items_by_when_they_were_stored_as_the_help_says(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    assert cli("--config", str(cfg), "import", str(SEEDS_DIR)).returncode == 0
    today = datetime.now(UTC).date().isoformat()
    listed = cli("--config", str(cfg), "items", "--format", "jsonl", "--since", today)
    rows = [json.loads(x) for x in listed.stdout.splitlines()]
    # Two seeds carry no date; the others were published years ago, though stored today.
    assert len(rows) == 2 and all(r["published"] is None for r in rows)
    redone = cli("--config", str(cfg), "reclassify", "--since", today)
    assert "re-scored 2 items" in redone.stdout
    for command in ("items", "reclassify"):
        shown = " ".join(cli(command, "--help").stdout.split())
        assert "--since DATE Published on or after DATE (undated items: when stored)" in shown
    items = " ".join(cli("items", "--help").stdout.split())
    assert "--until DATE Published on or before DATE (undated items: when stored)" in items
    coverage = " ".join(cli("sources", "coverage", "--help").stdout.split())
    assert "--since DATE Items stored and gaps found on or after DATE" in coverage


def test_demo_stores_and_shows_articles(tmp_path: Path) -> None:
    result = cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Stored 8 items" in result.stdout
    for word in ("demo-feed", "demo-sitemap", "demo-listing", "ru", "kk", "fr", "en"):
        assert word in result.stdout


# --- help and start-up ---------------------------------------------------------------


def test_help_shows_defaults_and_no_type_labels_on_flags() -> None:
    top = cli("--help").stdout
    assert "[default: config/monitor.toml]" in top
    backfill = cli("backfill", "--help").stdout
    assert "[default: one per core]" in backfill
    assert "--source NAME" in backfill and "--since DATE" in backfill
    items = cli("items", "--help").stdout
    for label in ("<bool>", "<list[str]>", "<str>", "<int>", "<path>"):
        assert label not in top + backfill + items, label
    assert re.search(r"--relevant\s+Only the relevant tier", items)
    serve = " ".join(cli("serve", "--help").stdout.split())
    assert "[default: the variable [web] token_env names]" in serve


def test_importing_the_command_line_loads_no_heavy_module() -> None:
    heavy = [
        "sqlalchemy", "alembic", "sqlmodel", "httpx", "trafilatura", "lxml", "numpy",
        "monitor.pipeline", "monitor.store.repo", "monitor.config", "rich", "asyncio",
    ]  # fmt: skip
    code = f"import sys, monitor.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- classify --jsonl --------------------------------------------------------------------


def test_classify_jsonl_answers_each_line_in_order_and_names_bad_ones(tmp_path: Path) -> None:
    first = "Совет министров иностранных дел ОИС собрался в Джидде."
    lines = [
        {"id": "a", "text": first},
        "not json",
        {"id": 7, "title": "OIC summit", "text": "Leaders met in Banjul.", "language": "en"},
        "",
        {"id": "no-text"},
        {"id": "c", "text": "Weather: sunny in Almaty."},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n",
        encoding="utf-8",
    )
    result = cli("classify", "--jsonl", str(src), cwd=tmp_path)
    assert result.returncode == 2
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", None, 7, "no-text", "c"]
    assert out[1] == {"id": None, "line": 2, "error": out[1]["error"]}
    assert "line 2: not JSON" in out[1]["error"]
    assert out[3]["line"] == 5 and "text" in out[3]["error"]
    assert [ln for ln in result.stderr.splitlines() if ln] == [
        f"{src}: {out[1]['error']}",
        f"{src}: {out[3]['error']}",
    ]
    single = cli("classify", "--json", "-", cwd=tmp_path, stdin=first)
    assert {k: v for k, v in out[0].items() if k != "id"} == json.loads(single.stdout)
    assert out[0]["tier"] == "relevant" and out[2]["tier"] != "none" and out[4]["tier"] == "none"
    piped = cli("classify", "--jsonl", "-", cwd=tmp_path, stdin=src.read_text(encoding="utf-8"))
    assert piped.stdout == result.stdout


# --- archive files: recorded only when written --------------------------------------------


def test_archive_file_is_null_when_it_could_not_be_written_until_export_rewrites_it(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive folder should be")
    cfg = config(tmp_path, f'archive_dir = "{blocker}/archive"\n')
    imported = cli("--config", str(cfg), "import", str(SEEDS_DIR))
    assert imported.returncode == 0, imported.stderr
    assert "archive×5" in imported.stdout
    rows = [
        json.loads(x)
        for x in cli("--config", str(cfg), "items", "--format", "jsonl").stdout.splitlines()
    ]
    assert [r["archive_file"] for r in rows] == [None] * 5

    archive = tmp_path / "archive"
    cfg.write_text(cfg.read_text().replace(f"{blocker}/archive", str(archive)))
    elsewhere = cli("--config", str(cfg), "export", "--out", str(tmp_path / "copy"))
    assert elsewhere.returncode == 0 and "wrote 5 items" in elsewhere.stdout
    rows = [
        json.loads(x)
        for x in cli("--config", str(cfg), "items", "--format", "jsonl").stdout.splitlines()
    ]
    assert [r["archive_file"] for r in rows] == [None] * 5  # a copy is not the archive
    rebuilt = cli("export", "--out", str(archive), "--config", str(cfg))
    assert rebuilt.returncode == 0, rebuilt.stderr
    rows = [
        json.loads(x)
        for x in cli("--config", str(cfg), "items", "--format", "jsonl").stdout.splitlines()
    ]
    for r in rows:
        assert r["archive_file"] == f"{r['id']:03d}_{r['content_hash']}.txt"
        assert (
            content_hash((archive / r["archive_file"]).read_text(encoding="utf-8"))
            == r["content_hash"]
        )


# --- tables ------------------------------------------------------------------------------


def test_long_titles_are_cut_with_an_ellipsis(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    title = "Министры иностранных дел государств Центральной Азии обсудили " * 3
    (folder / "a.txt").write_text(f"{title.strip()}\n\nТекст новости о встрече министров.")
    cfg = config(tmp_path)
    assert cli("--config", str(cfg), "import", str(folder)).returncode == 0
    table = cli("--config", str(cfg), "items").stdout
    shown = next(line for line in table.splitlines() if "Министры" in line)
    cell = shown.split("│")[-2].strip()
    assert cell.endswith("…") and len(cell) == 70
    assert title.startswith(cell[:-1])


# --- the database is closed by every command, whatever happened -----------------------------


def open_handles(db: Path) -> int:
    """This process's open files of the SQLite database (with its -wal and -shm)."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        count += target.startswith(str(db))
    return count


@pytest.fixture
def in_process() -> Iterator[Callable[..., int]]:
    """Run the command line in this process (so its open files can be counted), putting
    the logging it configures back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield lambda *args: run_cli(list(args))
    finally:
        root.handlers[:], root.level = handlers, level


def test_every_command_closes_the_database(
    tmp_path: Path, in_process: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(config(tmp_path))
    db = tmp_path / "monitor.db"
    assert in_process("--config", cfg, "import", str(SEEDS_DIR)) == 0
    assert open_handles(db) == 0
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for args, status in [
        (["items"], 0),
        (["items", "--stories", "--format", "json"], 0),
        (["export", "--out", str(tmp_path / "out")], 0),
        (["export", "--format", "jsonl", "--out", str(tmp_path / "out")], 0),
        (["export", "--out", str(blocker)], 2),  # fails after the store is open
        (["reclassify"], 0),
        (["report"], 0),
        (["report", "--export", str(tmp_path)], 2),
        (["sources", "list"], 0),
        (["sources", "coverage"], 0),
        (["poll"], 0),
    ]:
        assert in_process("--config", cfg, *args) == status, args
        assert open_handles(db) == 0, args
    capsys.readouterr()
