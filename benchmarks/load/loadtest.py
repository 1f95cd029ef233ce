"""Bounded load test of a live ``openlipsync serve`` on loopback.

    .venv/bin/python benchmarks/load/loadtest.py --clients 200 --seconds 30

Starts ``openlipsync serve`` (API only by default: ``--workers 0``) on 127.0.0.1 with a fresh data dir,
creates ``--tenants`` API keys and one tiny video + audio asset per tenant, then runs ``--clients``
concurrent clients for ``--seconds`` seconds. Each client loops over a mix of operations (optionally with a
random think time): get one of its tenant's jobs (v1 or v2), list jobs (v1 or v2), create a job from the
tenant's asset ids (v2), and create with a forbidden URL (must be a 400). Afterwards every job that got a
201 is read back (GET and list): a created job that cannot be found is "lost".

Prints p50/p90/p99/max latency per operation, status counts, request errors, 5xx and lost jobs, and writes
them as JSON with ``--json``. Everything runs on loopback and stops by itself (a hard deadline bounds the
run even if the server stalls). Timings on a shared 2-core machine are noisy; the clients share the CPU
with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# Limits raised for the test so that we measure the server, not the limiter (documented in SECURITY.md);
# --keep-limits runs with the defaults instead (many answers are then 429, never 5xx).
LOAD_ENV = {
    "OPENLIPSYNC_RATE_LIMIT_REQUESTS_PER_SECOND": "100000",
    "OPENLIPSYNC_RATE_LIMIT_BURST": "100000",
    "OPENLIPSYNC_RATE_LIMIT_MAX_INFLIGHT_REQUESTS": "0",
    "OPENLIPSYNC_QUOTA_MAX_ACTIVE_JOBS": "0",
}
MIX = (("get", 0.50), ("list", 0.25), ("create", 0.15), ("create_invalid", 0.10))


@dataclass
class Tenant:
    key: str
    visual: str
    audio: str
    jobs: list[str] = field(default_factory=list)


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unexpected: list[str] = field(default_factory=list)

    def record(self, op: str, seconds: float, status: int) -> None:
        self.latencies[op].append(seconds)
        self.statuses[op][status] += 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int, workers: int, keep_limits: bool, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "OPENLIPSYNC_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    if not keep_limits:
        env.update(LOAD_ENV)
    argv = [PYTHON, "-m", "openlipsync.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]
    log = log_path.open("wb")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT),
                            start_new_session=True)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group (started with a new session)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not become ready")


def make_media(directory: Path) -> tuple[Path, Path]:
    """A 0.4 s 64x64 video and a 0.4 s tone, made with ffmpeg (tiny: creation cost is the API's, not media's)."""
    video, audio = directory / "v.mp4", directory / "a.wav"
    base = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi"]
    subprocess.run([*base, "-i", "testsrc=s=64x64:r=25", "-t", "0.4", "-pix_fmt", "yuv420p", str(video)],
                   check=True, timeout=60)
    subprocess.run([*base, "-i", "sine=r=16000", "-t", "0.4", str(audio)], check=True, timeout=60)
    return video, audio


def create_tenants(data_dir: Path, base: str, n: int, video: Path, audio: Path) -> list[Tenant]:
    sys.path.insert(0, str(ROOT / "src"))
    from openlipsync.config import Settings
    from openlipsync.db import Database
    from openlipsync.jobs.tenants import create_key

    db = Database(Settings(data_dir=data_dir).resolved_database_url())
    tenants = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(n):
            key = create_key(db, f"load-{i}", "loadtest").key
            ids = []
            for path in (video, audio):
                with path.open("rb") as fh:
                    r = client.post("/v1/assets", headers={"Authorization": f"Bearer {key}"},
                                    files={"file": (path.name, fh)})
                r.raise_for_status()
                ids.append(r.json()["id"])
            tenants.append(Tenant(key, ids[0], ids[1]))
    db.dispose()
    return tenants


async def _one(client: httpx.AsyncClient, op: str, tenant: Tenant, stats: Stats) -> None:
    h1 = {"Authorization": f"Bearer {tenant.key}"}
    h2 = {"x-api-key": tenant.key}
    start = time.perf_counter()
    try:
        if op == "get" and tenant.jobs:
            jid = random.choice(tenant.jobs)
            r = await (client.get(f"/v1/generations/{jid}", headers=h1) if random.random() < 0.5
                       else client.get(f"/v2/generate/{jid}", headers=h2))
            expect = {200}
        elif op in ("get", "list"):
            op = "list"
            r = await (client.get("/v1/generations?limit=10", headers=h1) if random.random() < 0.5
                       else client.get("/v2/generations?limit=10", headers=h2))
            expect = {200}
        elif op == "create":
            r = await client.post("/v2/generate", headers=h2, json={"model": "lipsync-2", "input": [
                {"type": "video", "assetId": tenant.visual}, {"type": "audio", "assetId": tenant.audio}]})
            expect = {201}
            if r.status_code == 201:
                tenant.jobs.append(r.json()["id"])
        else:
            r = await client.post("/v2/generate", headers=h2, json={"model": "lipsync-2", "input": [
                {"type": "video", "url": "http://169.254.169.254/latest/meta-data/"},
                {"type": "audio", "url": "http://169.254.169.254/latest/meta-data/"}]})
            expect = {400}
    except httpx.HTTPError as exc:
        stats.errors[f"{op}: {type(exc).__name__}"] += 1
        return
    stats.record(op, time.perf_counter() - start, r.status_code)
    if r.status_code not in expect and r.status_code != 429 and len(stats.unexpected) < 20:
        stats.unexpected.append(f"{op} -> {r.status_code}: {r.text[:200]}")


async def _client(client: httpx.AsyncClient, tenant: Tenant, deadline: float, think: float, stats: Stats) -> None:
    ops, weights = zip(*MIX, strict=True)
    while time.monotonic() < deadline:
        await _one(client, random.choices(ops, weights)[0], tenant, stats)
        if think > 0:
            await asyncio.sleep(random.uniform(0, 2 * think))


async def run_clients(base: str, tenants: list[Tenant], clients: int, seconds: float, think: float) -> Stats:
    stats = Stats()
    # keep-alive shorter than the server's (uvicorn: 5 s) so a reused connection is never one it is closing
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        deadline = time.monotonic() + seconds
        tasks = [_client(client, tenants[i % len(tenants)], deadline, think, stats) for i in range(clients)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 60)  # hard bound
    return stats


def _get(client: httpx.Client, url: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    """GET that waits out 429s (the checker must not count its own throttling as lost jobs)."""
    for _ in range(30):
        r = client.get(url, headers=headers, params=params)
        if r.status_code != 429:
            return r
        time.sleep(min(10.0, float(r.headers.get("retry-after", "1"))))
    return r


def find_lost(base: str, tenants: list[Tenant]) -> tuple[int, int]:
    """(created, lost): every job that got a 201 must be readable and listed for its tenant."""
    created = lost = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        for tenant in tenants:
            h = {"Authorization": f"Bearer {tenant.key}"}
            listed: set[str] = set()
            cursor: str | None = None
            while True:
                page = _get(client, "/v1/generations", h, limit=100, **({"cursor": cursor} if cursor else {})).json()
                listed.update(j["id"] for j in page["data"])
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            for jid in tenant.jobs:
                created += 1
                if jid not in listed or _get(client, f"/v1/generations/{jid}", h).status_code != 200:
                    lost += 1
    return created, lost


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc), to report server CPU per request."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000 if ordered else 0.0


def summarise(stats: Stats, seconds: float, created: int, lost: int, clients: int, think: float) -> dict[str, Any]:
    ops = {}
    for op, values in sorted(stats.latencies.items()):
        ops[op] = {"count": len(values), "p50_ms": round(_pct(values, 0.5), 1), "p90_ms": round(_pct(values, 0.9), 1),
                   "p99_ms": round(_pct(values, 0.99), 1), "max_ms": round(max(values) * 1000, 1),
                   "statuses": dict(sorted(stats.statuses[op].items()))}
    total = sum(o["count"] for o in ops.values())
    five = sum(n for op in stats.statuses.values() for code, n in op.items() if code >= 500)
    return {"clients": clients, "seconds": seconds, "think_seconds": think, "requests": total,
            "requests_per_second": round(total / seconds, 1), "ops": ops, "status_5xx": five,
            "request_errors": dict(stats.errors), "unexpected": stats.unexpected,
            "jobs_created": created, "jobs_lost": lost}


def print_report(report: dict[str, Any]) -> None:
    print(f"{report['clients']} clients x {report['seconds']:g} s (think {report['think_seconds']:g} s): "
          f"{report['requests']} requests, {report['requests_per_second']} req/s")
    print(f"{'op':<16}{'count':>8}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}  statuses")
    for op, o in report["ops"].items():
        print(f"{op:<16}{o['count']:>8}{o['p50_ms']:>10}{o['p90_ms']:>10}{o['p99_ms']:>10}{o['max_ms']:>10}  "
              f"{o['statuses']}")
    print(f"server CPU: {report.get('server_cpu_ms_per_request')} ms/request, "
          f"{report.get('server_cpu_cores_used')} cores; machine load average before/after: "
          f"{report.get('load_average_before_after')}")
    print(f"5xx: {report['status_5xx']}  request errors: {report['request_errors'] or 0}  "
          f"jobs created: {report['jobs_created']}  lost: {report['jobs_lost']}")
    for line in report["unexpected"]:
        print("unexpected:", line)


def run_load(clients: int = 200, seconds: float = 30.0, tenants: int = 20, think: float = 0.0,
             workers: int = 0, keep_limits: bool = False) -> dict[str, Any]:
    """Start a server, run the load, check for lost jobs, stop the server; the report as a dict."""
    with tempfile.TemporaryDirectory(prefix="ols-load-") as tmp:
        tmpdir = Path(tmp)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(tmpdir / "data", port, workers, keep_limits, tmpdir / "server.log")
        try:
            wait_ready(base, proc)
            video, audio = make_media(tmpdir)
            people = create_tenants(tmpdir / "data", base, tenants, video, audio)
            load_before, cpu_before = os.getloadavg()[0], cpu_seconds(proc.pid)
            stats = asyncio.run(run_clients(base, people, clients, seconds, think))
            cpu_used, load_after = cpu_seconds(proc.pid) - cpu_before, os.getloadavg()[0]
            created, lost = find_lost(base, people)
        finally:
            stop_server(proc)
        report = summarise(stats, seconds, created, lost, clients, think)
        report["server_cpu_ms_per_request"] = round(1000 * cpu_used / max(report["requests"], 1), 2)
        report["server_cpu_cores_used"] = round(cpu_used / seconds, 2)
        report["load_average_before_after"] = [round(load_before, 1), round(load_after, 1)]
        log = (tmpdir / "server.log").read_text(errors="replace")
        report["server_tracebacks"] = log.count("Traceback (most recent call last)")
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--think", type=float, default=0.0, help="mean think time between requests (s)")
    parser.add_argument("--workers", type=int, default=0, help="engine workers in the server (0 = API only)")
    parser.add_argument("--keep-limits", action="store_true", help="keep the default rate limits and quotas")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    report = run_load(args.clients, args.seconds, args.tenants, args.think, args.workers, args.keep_limits)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    sys.exit(1 if report["status_5xx"] or report["jobs_lost"] else 0)


if __name__ == "__main__":
    main()
