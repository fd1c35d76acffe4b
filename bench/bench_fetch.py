"""CPU per GET of monitor.fetch.Fetcher against a local HTTP server in another process.

Three cases: 200 responses of about 60 KB one at a time, conditional GETs answered 304, and
200s from --hosts servers (one port each, so one host each) taken in turn, eight requests
in flight at a time, as a daemon polling many sites does. The servers run in a child
process, so process_time here counts only the client's work. With --other, a
second checkout's monitor package is loaded in its own child process and the two are run in
turns (A, B, A, B, ...); the ratios printed are new/old per case.

    python bench/bench_fetch.py --gets 2000 --rounds 3 [--hosts 40] [--other PATH_TO_OTHER_CHECKOUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Process, Queue

import machine

BODY = (b"<html><head><title>t</title></head><body>" + b"<p>news text here</p>" * 2900)[
    :60_000
] + b"</body></html>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # see localweb.py

    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            body = b"User-agent: *\nAllow: /\n"
            self._send(200, body, "text/plain")
        elif self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(200, BODY, "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, media: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(port_queue: Queue[list[int]], hosts: int) -> None:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Handler) for _ in range(hosts)]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    port_queue.put([server.server_address[1] for server in servers])
    servers[0].serve_forever()


async def _measure(bases: list[str], gets: int) -> dict[str, float]:
    from monitor.config import FetchSettings
    from monitor.fetch import Fetcher

    settings = FetchSettings(per_host_delay=timedelta(0), per_host_concurrency=1)
    out = {}
    base = bases[0]
    async with Fetcher(settings) as fetcher:
        await fetcher.get(base + "/warm")
        for case, etag in (("200", None), ("304", '"v1"')):
            start = time.process_time()
            for i in range(gets):
                result = await fetcher.get(f"{base}/page/{i}", etag=etag, accept="html")
                assert result.status == int(case), result.status
            out[case] = (time.process_time() - start) / gets * 1e6
        in_flight = asyncio.Semaphore(8)

        async def one(i: int) -> None:
            async with in_flight:
                result = await fetcher.get(f"{bases[i % len(bases)]}/page/{i}", accept="html")
                assert result.status == 200, result.status

        await asyncio.gather(*(one(i) for i in range(len(bases))))  # robots.txt of each
        start = time.process_time()
        await asyncio.gather(*(one(i) for i in range(gets)))
        out["hosts"] = (time.process_time() - start) / gets * 1e6
    return out


def _child(root: str, bases: list[str], gets: int) -> dict[str, float]:
    code = (
        "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]); "
        "sys.path.insert(0, sys.argv[2]); import bench_fetch as b; "
        "print(json.dumps(asyncio.run(b._measure(sys.argv[3].split(), int(sys.argv[4])))))"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=root)
    done = subprocess.run(
        [sys.executable, "-c", code, root, here, " ".join(bases), str(gets)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=40, help="servers for the third case")
    parser.add_argument("--other", help="another checkout to compare against (old)")
    args = parser.parse_args()
    print(f"machine: {machine.describe(machine.reference_ms())}")
    ports: Queue[list[int]] = Queue()
    server = Process(target=_serve, args=(ports, args.hosts), daemon=True)
    server.start()
    bases = [f"http://127.0.0.1:{port}" for port in ports.get()]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    variants = {"new": here} | ({"old": args.other} if args.other else {})
    cases = ("200", "304", "hosts")
    totals: dict[str, dict[str, float]] = {v: dict.fromkeys(cases, 0.0) for v in variants}
    try:
        for r in range(args.rounds):
            for name, root in variants.items():
                got = _child(root, bases, args.gets)
                print(f"round {r} {name}: " + ", ".join(f"{c} {got[c]:.0f}" for c in cases)
                      + " us/GET")  # fmt: skip
                for case in got:
                    totals[name][case] += got[case] / args.rounds
    finally:
        server.terminate()
    for name, t in totals.items():
        print(f"{name}: " + ", ".join(f"{c} {t[c]:.0f}" for c in cases) + " us CPU/GET")
    if "old" in totals:
        for case in cases:
            print(f"ratio new/old {case}: {totals['new'][case] / totals['old'][case]:.3f}")


if __name__ == "__main__":
    main()
