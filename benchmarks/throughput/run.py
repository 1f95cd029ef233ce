"""Throughput of the scale-out deployment: jobs/minute with 1, 2, ... worker processes.

    eval "$(scripts/services.sh start)"
    .venv/bin/python benchmarks/throughput/run.py --workers 1,2 --jobs 8

For each worker count it starts a real deployment on loopback (``openlipsync serve --no-worker`` plus
N ``openlipsync worker`` processes on PostgreSQL + Redis + S3), warms every worker up with one job (imports
and model loading are not throughput), then submits ``--jobs`` jobs at once through ``/v1/generations``
and measures from the first submission to the last recorded completion. Also prints the time of one job
alone in this process (the engine floor), so the ratio shows the platform's overhead.
Timings on a shared machine are noisy: run it on an otherwise idle machine and repeat.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from tests import factories  # noqa: E402
from tests.scaleout.cluster import Cluster, submit  # noqa: E402

from openlipsync.db import Database, Job  # noqa: E402
from openlipsync.db.migrate import upgrade  # noqa: E402
from openlipsync.jobs.tenants import create_key  # noqa: E402


def _env(tag: str) -> dict[str, str]:
    missing = [k for k in ("DATABASE_URL", "QUEUE_URL", "STORAGE_URL") if not os.environ.get(k)]
    if missing:
        sys.exit(f"set {', '.join(missing)} first: eval \"$(scripts/services.sh start)\"")
    queue = os.environ["QUEUE_URL"]
    storage, _, query = os.environ["STORAGE_URL"].partition("?")
    return {"DATABASE_URL": os.environ["DATABASE_URL"],
            "QUEUE_URL": f"{queue}{'&' if '?' in queue else '?'}queue=bench-{tag}",
            "STORAGE_URL": f"{storage.rstrip('/')}/bench-{tag}" + (f"?{query}" if query else ""),
            "OPENLIPSYNC_QUOTA_MAX_ACTIVE_JOBS": "0"}  # a large --jobs batch is one tenant's backlog


def _wait_done(db: Database, ids: list[str], timeout: float) -> list[Job]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session() as s:
            jobs = list(s.query(Job).filter(Job.id.in_(ids)))
        if all(j.status in ("COMPLETED", "FAILED", "CANCELED") for j in jobs):
            failed = [j.error for j in jobs if j.status != "COMPLETED"]
            if failed:
                raise RuntimeError(f"{len(failed)} job(s) failed: {failed[0]}")
            return jobs
        time.sleep(0.2)
    raise RuntimeError(f"jobs not done within {timeout}s")


def measure(workers: int, jobs: int, model: str, video: Path, audio: Path, workdir: Path) -> float:
    """Jobs per minute with ``workers`` worker processes of concurrency 1."""
    cluster = Cluster(env=_env(uuid.uuid4().hex[:8]), workdir=workdir / f"w{workers}")
    cluster.workdir.mkdir(parents=True)
    db = Database(os.environ["DATABASE_URL"])
    upgrade(db.engine)  # a fresh database (first run after services.sh start) has no schema yet
    key = create_key(db, f"bench-{uuid.uuid4().hex[:8]}", "throughput bench")
    try:
        for _ in range(workers):
            cluster.start_worker(concurrency=1)
        cluster.start_api()
        with httpx.Client(timeout=120) as client:
            warm = [submit(client, cluster.base_url, key.key, video, audio, model=model)["id"]
                    for _ in range(workers)]
            _wait_done(db, warm, timeout=600)
            t0 = time.monotonic()
            ids = [submit(client, cluster.base_url, key.key, video, audio, model=model)["id"]
                   for _ in range(jobs)]
            submitted = time.monotonic() - t0
            done = _wait_done(db, ids, timeout=1800)
        wall = time.monotonic() - t0
        runs = [(j.completed_at - j.started_at).total_seconds() for j in done if j.started_at and j.completed_at]
        # Window from the first job started to the last completed, as recorded by the workers: the
        # API's upload validation of the first job is not part of the workers' throughput.
        window = (max(j.completed_at for j in done) - min(j.started_at for j in done)).total_seconds()
        per_min = jobs / window * 60
        print(f"workers={workers}: {jobs} jobs, first start to last completion {window:.1f}s = {per_min:.1f} "
              f"jobs/min (submit to done {wall:.1f}s, submission {submitted:.1f}s); per-job run time median "
              f"{sorted(runs)[len(runs) // 2]:.2f}s; load average {os.getloadavg()[0]:.1f}", flush=True)
        return per_min
    finally:
        cluster.stop()
        db.dispose()


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def floor_seconds(model: str, video: Path, audio: Path, workdir: Path) -> tuple[float, float]:
    """One job's engine wall time in this process after a warm-up run (no queue, database or storage),
    and the CPU cores it kept busy on average (CPU seconds incl. ffmpeg children / wall seconds)."""
    import openlipsync

    opts = openlipsync.LipSyncOptions(model=openlipsync.Model(model))
    openlipsync.lipsync(video, audio, workdir / "warm.mp4", opts)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    openlipsync.lipsync(video, audio, workdir / "floor.mp4", opts)
    wall = time.perf_counter() - t0
    return wall, (_cpu_seconds() - c0) / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="1,2", help="comma-separated worker process counts")
    ap.add_argument("--jobs", type=int, default=8, help="measured jobs per worker count")
    ap.add_argument("--model", default="lipsync-2")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each job's video")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ols-bench-") as tmp:
        work = Path(tmp)
        video = factories.make_face_video(work / "face.mp4", seconds=args.seconds, size=256)
        audio = factories.make_speech(work / "speech.wav", text="This is a throughput test of the platform.")
        floor, cores = floor_seconds(args.model, video, audio, work)
        print(f"engine alone: {floor:.2f}s per job = {60 / floor:.1f} jobs/min on one process, "
              f"{cores:.2f} cores busy (model {args.model}, {os.cpu_count()} CPUs)", flush=True)
        results = {n: measure(n, args.jobs, args.model, video, audio, work)
                   for n in (int(x) for x in args.workers.split(","))}
    base = results[min(results)]
    for n, per_min in results.items():
        print(f"{n} worker process(es): {per_min:.1f} jobs/min, {per_min / base:.2f}x of {min(results)}")


if __name__ == "__main__":
    main()
