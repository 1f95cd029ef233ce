"""The worker: claim a job, run the engine with progress and a lease, record one result.

``Worker.handle(job_id)`` is what the queue calls (at least once per job). ``Worker.run(stop)`` runs the
queue consumer plus the maintenance loop (sweeper + webhooks). ``Worker.drain()`` is a burst mode for
tests and scripts: run every runnable job in this thread, then return.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from openlipsync.db import Asset, Job
from openlipsync.errors import CancelledError, JobTimeoutError, LipSyncError
from openlipsync.jobs import cost as pricing
from openlipsync.jobs import lease
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.requests import build_options
from openlipsync.jobs.status import JobStatus
from openlipsync.jobs.webhooks import WebhookSender
from openlipsync.options import LipSyncOptions, Segment
from openlipsync.storage import tenant_key

log = logging.getLogger("openlipsync.jobs.worker")

_PROGRESS_FLUSH_SECONDS = 1.0
_TICK = 0.25
_HANG_GRACE_SECONDS = 30.0  # after the time limit, how long a silent engine gets before we give up on it
# The engine reports a fraction per stage; these spans (percent of the whole run) turn that into one
# overall percentage. Unknown stages keep the last percentage, so progress never moves backwards.
_STAGE_SPANS = {"starting": (0.0, 0.0), "probe": (0.0, 2.0), "analyse": (2.0, 30.0), "plan": (30.0, 35.0),
                "render": (35.0, 97.0), "encode": (97.0, 99.0), "done": (100.0, 100.0)}


def overall_percent(stage: str, fraction: float, previous: float) -> float:
    """Overall progress in percent from the engine's ``(stage, fraction of that stage)``; monotonic."""
    span = _STAGE_SPANS.get(stage)
    if span is None:
        return previous
    lo, hi = span
    return max(previous, round(lo + (hi - lo) * max(0.0, min(1.0, fraction)), 1))


class _Abort(Exception):
    """The job must stop without this worker writing a result (cancelled, deleted, lease lost, shutdown)."""


class _Monitor:
    """Heartbeats for one running job; turns cancel / time limit / shutdown into an exception in the engine."""

    def __init__(self, platform: Platform, job_id: str, owner: str, stop: threading.Event) -> None:
        self.p, self.job_id, self.owner, self.stop = platform, job_id, owner, stop
        self.stage, self.percent = "starting", 0.0
        self.reason: str | None = None  # canceled | shutdown | timeout
        self.deadline = time.monotonic() + platform.settings.job_timeout_seconds
        self._done = threading.Event()
        self._changed = False
        self._thread = threading.Thread(target=self._beat, name=f"hb-{job_id[:8]}", daemon=True)

    def __enter__(self) -> _Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def progress(self, stage: str, fraction: float) -> None:
        """The engine's progress callback: records progress, raises to stop the engine when needed."""
        percent = overall_percent(stage, float(fraction), self.percent)
        if stage != self.stage or percent - self.percent >= 0.1:
            self.stage, self.percent, self._changed = stage, percent, True
        if self.stop.is_set() and self.reason is None:
            self.reason = "shutdown"
        if time.monotonic() > self.deadline:
            self.reason = "timeout"
        if self.reason == "timeout":
            raise JobTimeoutError(f"the job exceeded its time limit of {self.p.settings.job_timeout_seconds:g}s")
        if self.reason is not None:
            raise CancelledError(f"job stopped ({self.reason})")

    def _beat(self) -> None:
        s = self.p.settings
        last = time.monotonic()
        while not self._done.wait(_TICK):
            now = time.monotonic()
            due = now - last >= s.heartbeat_seconds or (self._changed and now - last >= _PROGRESS_FLUSH_SECONDS)
            if due:
                self._changed = False
                last = now
                ok = lease.heartbeat(self.p.db, self.job_id, self.owner, s.lease_seconds, self.percent,
                                     self.stage)
                if not ok and self.reason is None:
                    self.reason = "canceled"  # cancelled, deleted or taken over: stop without writing
            if now > self.deadline + _HANG_GRACE_SECONDS and self.reason != "hung":
                # The engine has not called back since the deadline: record the timeout ourselves.
                self.reason = "hung"
                _fail(self.p, self.job_id, self.owner, JobTimeoutError("the job exceeded its time limit"))


def _fail(p: Platform, job_id: str, owner: str, exc: LipSyncError) -> bool:
    return lease.finish(p.db, job_id, owner, JobStatus.FAILED, error=exc.message, error_code=exc.code, cost=0.0,
                        progress_stage="failed")


class Worker:
    def __init__(self, platform: Platform, *, owner: str | None = None) -> None:
        self.p = platform
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stop_event = threading.Event()
        self.webhooks = WebhookSender(platform.settings, platform.db, platform.signer)
        self._workdir = platform.settings.data_dir / "work"

    # --- one job ------------------------------------------------------------------------------------

    def handle(self, job_id: str) -> None:
        """Run ``job_id`` if this worker can claim it; never raises."""
        s = self.p.settings
        try:
            if not lease.claim(self.p.db, job_id, self.owner, s.lease_seconds, s.max_attempts):
                return
        except Exception:
            log.exception("could not claim job %s", job_id)
            return
        try:
            self._execute(job_id)
        except Exception as exc:  # infrastructure trouble (storage, database): retry or give up
            log.exception("job %s failed unexpectedly", job_id)
            self._retry_or_fail(job_id, exc)

    def _execute(self, job_id: str) -> None:
        with self.p.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return
            assets = {a.id: a for a in s.query(Asset).filter(Asset.id.in_(_asset_ids(job.inputs)))}
        self._workdir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"job-{job_id[:8]}-", dir=self._workdir) as tmp, \
                _Monitor(self.p, job_id, self.owner, self.stop_event) as monitor:
            try:
                output = Path(tmp) / "output.mp4"
                video, audio, options = self._prepare(job, assets, Path(tmp))
                result = self.p.runner(video, audio, output, options, progress=monitor.progress, workdir=tmp)
                self._complete(job, result, output, monitor)
            except (LipSyncError, _Abort) as exc:
                self._settle(job, exc, monitor)

    def _prepare(self, job: Job, assets: dict[str, Asset], tmp: Path) -> tuple[Path, Path | None, LipSyncOptions]:
        def local(asset_id: str) -> Path:
            asset = assets.get(asset_id)
            if asset is None:
                raise LipSyncError(f"input asset {asset_id} was deleted", code="generation_input_missing")
            return self.p.assets.local_copy(asset, tmp)

        inputs = job.inputs
        segments = tuple(Segment(start=float(g["start"]), end=float(g["end"]), audio=local(g["asset"]),
                                 audio_start=g.get("audio_start"), audio_end=g.get("audio_end"))
                         for g in inputs.get("segments") or [])
        audio = local(inputs["audio"]) if inputs.get("audio") else None
        return local(inputs["visual"]), audio, build_options(job.model, job.options, segments)

    def _complete(self, job: Job, result: Any, output: Path, monitor: _Monitor) -> None:
        if monitor.reason is not None:
            raise _Abort(monitor.reason)
        key = tenant_key(job.tenant_id, "outputs", job.id, f"{job.attempts}-{secrets.token_hex(8)}.mp4")
        self.p.storage.put_file(key, output, "video/mp4")  # a fresh key per attempt: never half-overwritten
        price = self.p.settings.price_per_second(job.model)
        recorded = lease.finish(
            self.p.db, job.id, self.owner, JobStatus.COMPLETED, output_key=key,
            duration_seconds=result.duration_seconds, frame_count=result.frame_count,
            cost=pricing.price(result.duration_seconds, price, self.p.settings.billing_fps),
            sync_report=result.report.to_dict(), progress_percent=100.0, progress_stage="done",
            error=None, error_code=None)
        if not recorded:  # cancelled, deleted or taken over meanwhile: the other outcome stands
            self.p.storage.delete(key)
            log.info("job %s: result discarded (lease no longer held)", job.id)

    def _settle(self, job: Job, exc: Exception, monitor: _Monitor) -> None:
        reason = monitor.reason
        if reason == "shutdown":
            if lease.release(self.p.db, job.id, self.owner, refund_attempt=True):
                self.p.jobs.enqueue(job.id)
            return
        if reason in ("canceled", "hung"):
            return
        if isinstance(exc, LipSyncError):
            _fail(self.p, job.id, self.owner, exc)

    def _retry_or_fail(self, job_id: str, exc: Exception) -> None:
        with self.p.db.session() as s:
            job = s.get(Job, job_id)
        if job is None:
            return
        if job.attempts < self.p.settings.max_attempts:
            if lease.release(self.p.db, job_id, self.owner, refund_attempt=False):
                self.p.jobs.enqueue(job_id)
            return
        _fail(self.p, job_id, self.owner,
              LipSyncError(f"internal error after {job.attempts} attempts: {type(exc).__name__}: {exc}"))

    # --- loops ----------------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Recover abandoned jobs: fail exhausted ones, hand the others to the queue again."""
        s = self.p.settings
        for job_id in lease.fail_exhausted(self.p.db, s.max_attempts):
            log.warning("job %s failed: worker lost on its last attempt", job_id)
        stale = lease.stale_jobs(self.p.db, s.pending_requeue_seconds)
        for job_id in stale:
            lease.mark_enqueued(self.p.db, job_id)
            self.p.jobs.enqueue(job_id)
        return len(stale)

    def maintenance(self, stop: threading.Event) -> None:
        """Sweeper and webhook delivery until ``stop``; errors are logged, never fatal."""
        next_sweep = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    self.sweep()
                    next_sweep = time.monotonic() + self.p.settings.sweep_interval_seconds
                self.webhooks.deliver_due()
            except Exception:
                log.exception("maintenance pass failed")
            stop.wait(min(0.5, self.p.settings.sweep_interval_seconds))

    def clean_workdir(self) -> int:
        """Remove scratch dirs of runs killed mid-job (older than any live job can be); return how many."""
        if not self._workdir.is_dir():
            return 0
        cutoff = time.time() - self.p.settings.job_timeout_seconds - _HANG_GRACE_SECONDS - 60
        stale = [d for d in self._workdir.glob("job-*") if d.is_dir() and d.stat().st_mtime < cutoff]
        for d in stale:
            shutil.rmtree(d, ignore_errors=True)
        return len(stale)

    def run(self, concurrency: int | None = None) -> None:
        """Consume the queue and run maintenance until ``stop_event`` is set (blocking)."""
        self.clean_workdir()
        n = concurrency or self.p.settings.worker_concurrency
        helper = threading.Thread(target=self.maintenance, args=(self.stop_event,), name="ols-maint", daemon=True)
        helper.start()
        log.info("worker %s: concurrency %d", self.owner, n)
        try:
            self.p.queue.run_worker(self.handle, concurrency=n, stop=self.stop_event)
        finally:
            self.stop_event.set()
            helper.join()

    def start_background(self, concurrency: int | None = None) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(concurrency,), name="ols-worker", daemon=True)
        thread.start()
        return thread

    def drain(self, max_jobs: int = 100) -> int:
        """Burst mode: run runnable jobs in this thread until none is left; return how many were run."""
        lease.fail_exhausted(self.p.db, self.p.settings.max_attempts)
        seen: set[str] = set()
        while len(seen) < max_jobs:
            ids = [i for i in lease.stale_jobs(self.p.db, pending_grace=-1e6, limit=len(seen) + 1) if i not in seen]
            if not ids:
                break
            seen.add(ids[0])
            self.handle(ids[0])
        self.webhooks.deliver_due()
        return len(seen)

def _asset_ids(inputs: dict[str, Any]) -> list[str]:
    ids = [inputs.get("visual"), inputs.get("audio")] + [g.get("asset") for g in inputs.get("segments") or []]
    return [i for i in ids if i]
