"""Every command given bad input, as a user would: one line naming what was wrong, no
traceback, and the exit status the README's table gives (0 ok, 1 runtime or database, 2 usage
or config, 3 nothing could be done)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.webserver import LocalWeb

RUSSIAN = "Организация исламского сотрудничества провела заседание СМИД ОИС в Джидде.\n"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


@dataclass
class Files:
    """A folder of the inputs people get wrong."""

    root: Path
    config: Path
    folder: Path  # an empty folder where a file is wanted
    binary: Path  # random-looking bytes with NULs
    cp1251: Path  # Russian text in windows-1251
    regular: Path  # a file where a folder is wanted
    unwritable: Path  # a path nothing can be written at, even as root

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
        return cli("--config", str(self.config), *args, cwd=self.root, stdin=stdin)


def cli(
    *args: str,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        result.stderr.decode("utf-8", "replace"),
    )


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What the command said on standard error, log records aside."""
    return [ln for ln in result.stderr.splitlines() if ln.strip() and not LOG_LINE.match(ln)]


def assert_fails(result: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    """The command ended with `status` and said one line on standard error naming `words`."""
    said = problems(result)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == status, (result.returncode, result.stderr)
    assert len(said) == 1, said
    for word in words:
        assert word in said[0], said


def unwritable_place(tmp_path: Path) -> Path:
    """A folder nobody may create files in: read-only for a user, sysfs for root."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        return locked
    return Path("/sys")


@pytest.fixture
def files(tmp_path: Path) -> Iterator[Files]:
    config = tmp_path / "monitor.toml"
    config.write_text(
        '[storage]\nurl = "sqlite:///monitor.db"\narchive_dir = "archive"\n'
        '[fetch]\nretries = 0\n[[sources]]\nname = "dead"\nurl = "http://127.0.0.1:9/rss"\n',
        encoding="utf-8",
    )
    (tmp_path / "folder").mkdir()
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 16)
    cp1251 = tmp_path / "ru-1251.txt"
    cp1251.write_bytes(RUSSIAN.encode("cp1251"))
    yield Files(
        root=tmp_path,
        config=config,
        folder=tmp_path / "folder",
        binary=binary,
        cp1251=cp1251,
        regular=cp1251,
        unwritable=unwritable_place(tmp_path) / "oic-monitor-out",
    )
    if os.geteuid() != 0:
        (tmp_path / "locked").chmod(0o700)


# --- the command line itself ---------------------------------------------------------


def test_usage_errors_are_one_line_status_2(files: Files) -> None:
    assert_fails(files.run("nosuch"), 2, "No such command 'nosuch'")
    assert_fails(files.run("items", "--bogus"), 2, "oic-monitor items", "--bogus")
    assert_fails(files.run("--log-level", "loud", "items"), 2, "--log-level", "loud")
    assert_fails(files.run("items", "--format", "xml"), 2, "--format", "xml")
    assert_fails(files.run("items", "--since", "2024-13-01"), 2, "--since", "2024-13-01")
    assert_fails(files.run("items", "--limit", "0"), 2, "--limit")
    assert_fails(files.run("reclassify", "--since", "soon"), 2, "--since")
    assert_fails(files.run("sources", "coverage", "--since", "x"), 2, "--since")
    assert_fails(files.run("report", "--split", "all"), 2, "--split")
    assert_fails(files.run("export", "--out", "x", "--format", "pdf"), 2, "--format")
    assert_fails(files.run("sources", "export", "--format", "csv"), 2, "--format")


def test_no_command_shows_help() -> None:
    result = cli()
    assert result.returncode == 0
    assert "Commands:" in result.stdout and "classify" in result.stdout


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda f: f.root / "none.toml", ["none.toml", "not found"]),
        (lambda f: f.folder, ["folder", "is a folder"]),
        (lambda f: f.binary, ["blob.bin", "binary"]),
    ],
)
def test_unusable_config_is_status_2(
    files: Files, make: Callable[[Files], Path], words: list[str]
) -> None:
    path = make(files)
    assert_fails(cli("--config", str(path), "items", cwd=files.root), 2, "config error", *words)


def test_config_in_windows_1251_is_read(files: Files) -> None:
    text = "# Источники МИД\n" + files.config.read_text(encoding="utf-8")
    files.config.write_bytes(text.encode("cp1251"))
    result = files.run("sources", "list")
    assert result.returncode == 0, result.stderr
    assert "dead" in result.stdout


def test_config_is_taken_before_or_after_the_command_or_from_the_environment(
    files: Files,
) -> None:
    for result in (
        cli("--config", str(files.config), "sources", "list", cwd=files.folder),
        cli("sources", "list", "--config", str(files.config), cwd=files.folder),
        cli("sources", "list", f"--config={files.config}", cwd=files.folder),
        cli("sources", "list", cwd=files.folder, env={"OIC_MONITOR_CONFIG": str(files.config)}),
    ):
        assert result.returncode == 0, result.stderr
        assert "127.0.0.1:9/rss" in result.stdout


def test_database_that_cannot_be_opened_is_status_1(files: Files) -> None:
    files.config.write_text(
        f'[storage]\nurl = "sqlite:///{files.regular}/monitor.db"\n', encoding="utf-8"
    )
    for command in (["items"], ["sources", "list"], ["reclassify"], ["report"]):
        assert_fails(files.run(*command), 1, "database error")


@pytest.mark.parametrize(
    "url", ["nosuchdb://host/x", "sqlite+nosuchdriver:///x.db", "mysql://user:pw@127.0.0.1/x"]
)
def test_database_url_of_an_unknown_database_or_driver_is_status_1(files: Files, url: str) -> None:
    files.config.write_text(f'[storage]\nurl = "{url}"\n', encoding="utf-8")
    result = files.run("items")
    assert_fails(result, 1, "database error", "unusable database URL")
    assert "pw" not in result.stderr


# --- classify --------------------------------------------------------------------------


def test_classify_bad_files(files: Files) -> None:
    assert_fails(files.run("classify", str(files.root / "none.txt")), 2, "none.txt", "not found")
    assert_fails(files.run("classify", str(files.folder)), 2, "folder", "is a folder")
    assert_fails(files.run("classify", str(files.binary)), 2, "blob.bin", "binary")
    assert_fails(files.run("classify", "-", stdin=files.binary.read_bytes()), 2, "binary")
    assert_fails(files.run("classify"), 2, "FILE")


@pytest.mark.parametrize("encoding", ["cp1251", "koi8_r", "utf-16", "utf-8-sig", "utf-8"])
def test_classify_reads_the_encodings_people_save_in(files: Files, encoding: str) -> None:
    path = files.root / f"ru-{encoding}.txt"
    path.write_bytes(RUSSIAN.encode(encoding))
    for result in (
        files.run("classify", str(path)),
        files.run("classify", "-", stdin=path.read_bytes()),
    ):
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("relevant"), result.stdout
        assert "«Организация исламского сотрудничества»" in result.stdout


def test_classify_eval_bad_files(files: Files) -> None:
    assert_fails(files.run("classify", "--eval", "none.jsonl"), 2, "none.jsonl", "not found")
    assert_fails(files.run("classify", "--eval", str(files.folder)), 2, "is a folder")
    assert_fails(files.run("classify", "--eval", str(files.binary)), 2, "binary")
    bad = files.root / "eval.jsonl"
    bad.write_text('{"id": "a", "lang": "en", "text": "x", "label": "relevant"}\n{"id": "b"}\n')
    assert_fails(files.run("classify", "--eval", str(bad)), 2, "eval.jsonl:2")


def test_classify_jsonl_bad_input(files: Files) -> None:
    assert_fails(files.run("classify", "--jsonl", "none.jsonl"), 2, "none.jsonl", "not found")
    assert_fails(files.run("classify", "--jsonl", str(files.folder)), 2, "is a folder")
    assert_fails(files.run("classify", "--jsonl", str(files.binary)), 2, "binary")


# --- items, export, report, import --------------------------------------------------


def test_export_refuses_paths_it_cannot_write(files: Files) -> None:
    assert_fails(files.run("export", "--out", str(files.regular)), 2, "exists and is not a folder")
    assert_fails(files.run("export", "--out", str(files.regular / "x")), 2, "not a folder")
    assert_fails(files.run("export", "--out", str(files.unwritable)), 2, "cannot create")
    jsonl = files.run("export", "--format", "jsonl", "--out", str(files.unwritable))
    assert_fails(jsonl, 2, str(files.unwritable))


def test_export_refuses_a_folder_where_its_file_goes(files: Files) -> None:
    seeds = files.root / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text(RUSSIAN, encoding="utf-8")
    assert files.run("import", str(seeds)).returncode == 0
    [record] = json.loads(files.run("items", "--format", "json").stdout)
    out = files.root / "out"
    taken = out / f"001_{record['content_hash']}.txt"
    taken.mkdir(parents=True)
    (out / "items.jsonl").mkdir()
    assert_fails(files.run("export", "--out", str(out)), 2, str(taken), "is a folder")
    assert sorted(p.name for p in out.iterdir()) == sorted([taken.name, "items.jsonl"])
    jsonl = files.run("export", "--format", "jsonl", "--out", str(out))
    assert_fails(jsonl, 2, str(out / "items.jsonl"), "is a folder")


def test_report_and_sources_export_refuse_paths_they_cannot_write(files: Files) -> None:
    for command in (["report", "--export"], ["sources", "export", "--out"]):
        assert_fails(files.run(*command, str(files.folder)), 2, "is a folder")
        assert_fails(files.run(*command, str(files.unwritable)), 2, "cannot write")


def test_items_piped_into_a_reader_that_stops_early(files: Files) -> None:
    seeds = files.root / "seeds"
    seeds.mkdir()
    for i in range(40):
        (seeds / f"{i}.txt").write_text(f"Article {i} about ports and roads. " * 200)
    assert files.run("import", str(seeds)).returncode == 0
    shell = f"{sys.executable} -m monitor --config {files.config} items --format jsonl | head -c 1"
    done = subprocess.run(shell, shell=True, capture_output=True, text=True, cwd=files.root)
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr


def test_import_bad_folders(files: Files) -> None:
    assert_fails(files.run("import", "none"), 2, "none", "not found")
    assert_fails(files.run("import", str(files.regular)), 2, "not a folder")


def test_import_reads_encodings_and_skips_binary_files(files: Files) -> None:
    folder = files.root / "texts"
    folder.mkdir()
    (folder / "a.txt").write_bytes(("Новости.\n\n" + RUSSIAN).encode("cp1251"))
    (folder / "b.txt").write_bytes(("Новости дня.\n\n" + RUSSIAN).encode("utf-16"))
    (folder / "c.txt").write_bytes(files.binary.read_bytes())
    result = files.run("import", str(folder))
    assert result.returncode == 0, result.stderr
    assert "unreadable×1" in result.stdout
    items = files.run("items", "--format", "jsonl").stdout.splitlines()
    assert len(items) == 2
    assert all("Организация исламского сотрудничества" in line for line in items)


def test_import_of_nothing_readable_is_status_3(files: Files) -> None:
    folder = files.root / "blobs"
    folder.mkdir()
    (folder / "a.txt").write_bytes(files.binary.read_bytes())
    result = files.run("import", str(folder))
    assert result.returncode == 3, result.stderr
    [row] = [ln for ln in result.stdout.splitlines() if "│ import" in ln]
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[-2:] == ["unreadable×1", "FAILED: not one file could be read"]
    assert "Traceback" not in result.stderr
    empty = files.root / "empty"
    empty.mkdir()
    nothing = files.run("import", str(empty))
    assert nothing.returncode == 0 and "no .txt files" in nothing.stderr
    [row] = [ln for ln in nothing.stdout.splitlines() if "│ import" in ln]
    assert row.strip("│ ").split("│")[-1].strip() == "no .txt files"


# --- backfill, sources ----------------------------------------------------------------


def test_backfill_bad_arguments(files: Files) -> None:
    backwards = files.run("backfill", "--since", "2024-05-01", "--until", "2024-04-01")
    assert_fails(backwards, 2, "after --until")
    assert_fails(files.run("backfill", "--workers", "-1"), 2, "--workers")
    assert_fails(files.run("backfill", "--source", "nope"), 2, "no source named 'nope'")


def test_backfill_with_every_source_unreachable_is_status_3(files: Files) -> None:
    dry = files.run("backfill", "--dry-run")
    assert dry.returncode == 3, dry.stderr
    assert "0 articles would be fetched" in dry.stdout
    [line] = problems(dry)
    assert line.startswith("dead: FAILED: http://127.0.0.1:9/rss: network error")
    assert line.endswith("errors: source×1")
    real = files.run("backfill")
    assert real.returncode == 3, real.stderr
    assert "source×1" in real.stdout and "FAILED" in real.stdout
    assert "Traceback" not in real.stderr


def test_sources_bad_input(files: Files, web: LocalWeb) -> None:
    assert_fails(files.run("sources", "check", "--source", "nope"), 2, "no source named")
    assert_fails(files.run("sources", "remove", "nope"), 2, "no source named 'nope'")
    assert_fails(files.run("sources", "add", "http://x.kz/", "--kind", "rss"), 2, "--kind")
    bad_interval = files.run("sources", "add", "http://x.kz/", "--interval", "soon")
    assert_fails(bad_interval, 2, "--interval", "soon")
    taken = files.run("sources", "add", "http://x.kz/", "--name", "dead")
    assert_fails(taken, 2, "a source named 'dead' already exists")
    web.add("/gone", status=404)
    assert_fails(files.run("sources", "add", web.url("/gone")), 1, "/gone")
    assert_fails(files.run("sources", "import", "none.opml"), 2, "none.opml", "not found")
    assert_fails(files.run("sources", "import", str(files.folder)), 2, "is a folder")
    assert_fails(files.run("sources", "import", str(files.binary)), 2, "blob.bin", "OPML")


def test_sources_check_needs_no_database_and_checks_enabled_sources_unless_named(
    files: Files, web: LocalWeb
) -> None:
    items = "".join(
        f"<item><title>News {n}</title><link>{web.url(f'/news/{n}.html')}</link></item>"
        for n in range(3)
    )
    web.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    web.add(
        "/rss.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>A</title>{items}</channel></rss>',
        content_type="application/rss+xml",
    )
    # A database nobody can create: the check never opens it.
    files.config.write_text(
        f'[storage]\nurl = "sqlite:///{files.unwritable}/monitor.db"\n'
        '[fetch]\nretries = 0\nper_host_delay = "1ms"\n'
        f'[[sources]]\nname = "agency"\nurl = "{web.url("/rss.xml")}"\n'
        f'[[sources]]\nname = "paused"\nurl = "{web.url("/rss.xml")}"\nenabled = false\n',
        encoding="utf-8",
    )
    result = files.run("sources", "check")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "database" not in result.stderr
    rows = [ln for ln in result.stdout.splitlines() if "│" in ln and "rss.xml" not in ln]
    assert any("agency" in r and " 3 " in r and "ok" in r for r in rows), result.stdout
    assert "paused" not in result.stdout  # disabled: left alone unless named
    named = files.run("sources", "check", "--source", "paused")
    assert named.returncode == 0, named.stderr
    assert "paused" in named.stdout and "agency" not in named.stdout
    assert not files.unwritable.exists()


def test_alerts_test_without_channels(files: Files) -> None:
    assert_fails(files.run("alerts", "test"), 2, "no alert channels")


# --- ports ----------------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_a_busy_port_is_status_1_for_serve_and_run(files: Files, busy_port: int) -> None:
    served = files.run("serve", "--port", str(busy_port))
    assert_fails(served, 1, f"cannot listen on 127.0.0.1:{busy_port}")
    assert "dashboard on" not in served.stdout
    ran = files.run("run", "--http", f"127.0.0.1:{busy_port}")
    assert_fails(ran, 1, f"cannot listen on 127.0.0.1:{busy_port}")


def test_bad_addresses_are_status_2(files: Files) -> None:
    assert_fails(files.run("serve", "--port", "0"), 2, "--port")
    assert_fails(files.run("serve", "--port", "70000"), 2, "--port")
    assert_fails(files.run("run", "--http", "127.0.0.1:70000"), 2, "HOST:PORT")
    assert_fails(files.run("serve", "--host", "0.0.0.0"), 2, "needs an access token")
