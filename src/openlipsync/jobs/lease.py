"""Leases: how a worker claims a job, keeps it, and records its one final result.

Every state change here is a single conditional UPDATE, so it is atomic on SQLite and PostgreSQL alike:
whoever's UPDATE matches the row wins; everyone else sees ``rowcount == 0`` and backs off. This is what
makes at-least-once delivery from the queue safe (a duplicate delivery cannot claim a leased job, and a
worker that lost its lease cannot overwrite the result).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from openlipsync.db import Database, Job
from openlipsync.db.models import utcnow
from openlipsync.db.session import rowcount
from openlipsync.jobs.status import JobStatus


def _expires(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def claim(db: Database, job_id: str, owner: str, lease_seconds: float, max_attempts: int) -> bool:
    """Take ``job_id`` if it is PENDING, or PROCESSING under an expired lease, and attempts remain."""
    now = utcnow()
    with db.session() as s:
        res = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.attempts < max_attempts,
                   or_(Job.status == JobStatus.PENDING.value,
                       and_(Job.status == JobStatus.PROCESSING.value, Job.lease_expires_at < now)))
            .values(status=JobStatus.PROCESSING.value, lease_owner=owner, lease_expires_at=_expires(lease_seconds),
                    attempts=Job.attempts + 1, started_at=now, updated_at=now, progress_stage="starting",
                    progress_percent=0.0)
            .execution_options(synchronize_session=False))
        return rowcount(res) == 1


def heartbeat(db: Database, job_id: str, owner: str, lease_seconds: float, percent: float, stage: str) -> bool:
    """Extend the lease and store progress; False when the lease is gone (cancelled, deleted, taken over)."""
    with db.session() as s:
        res = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == owner, Job.status == JobStatus.PROCESSING.value)
            .values(lease_expires_at=_expires(lease_seconds), progress_percent=percent, progress_stage=stage,
                    updated_at=utcnow())
            .execution_options(synchronize_session=False))
        return rowcount(res) == 1


def finish(db: Database, job_id: str, owner: str, status: JobStatus, **values: Any) -> bool:
    """Record the final state, only if ``owner`` still holds the lease. Returns whether it was recorded."""
    now = utcnow()
    values.update(status=status.value, lease_owner=None, lease_expires_at=None, updated_at=now, completed_at=now)
    with db.session() as s:
        webhook = s.scalar(select(Job.webhook_url).where(Job.id == job_id))
        if webhook and status in (JobStatus.COMPLETED, JobStatus.FAILED):
            values.update(webhook_state="pending", webhook_next_at=now)
        res = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == owner, Job.status == JobStatus.PROCESSING.value)
            .values(**values)
            .execution_options(synchronize_session=False))
        return rowcount(res) == 1


def release(db: Database, job_id: str, owner: str, *, refund_attempt: bool) -> bool:
    """Give a claimed job back (PENDING) so another worker can run it: shutdown or transient failure."""
    values: dict[str, Any] = dict(status=JobStatus.PENDING.value, lease_owner=None, lease_expires_at=None,
                                  progress_stage="queued", progress_percent=0.0, updated_at=utcnow(),
                                  enqueued_at=utcnow())
    if refund_attempt:
        values["attempts"] = Job.attempts - 1
    with db.session() as s:
        res = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == owner, Job.status == JobStatus.PROCESSING.value)
            .values(**values)
            .execution_options(synchronize_session=False))
        return rowcount(res) == 1


def stale_jobs(db: Database, pending_grace: float, limit: int = 100) -> list[str]:
    """Jobs to hand to the queue again: PENDING and not enqueued recently, or PROCESSING past its lease."""
    now = utcnow()
    with db.session() as s:
        rows = s.scalars(
            select(Job.id).where(or_(
                and_(Job.status == JobStatus.PENDING.value,
                     or_(Job.enqueued_at.is_(None), Job.enqueued_at < now - timedelta(seconds=pending_grace))),
                and_(Job.status == JobStatus.PROCESSING.value, Job.lease_expires_at < now),
            )).order_by(Job.created_at).limit(limit))
        return list(rows)


def mark_enqueued(db: Database, job_id: str) -> None:
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(enqueued_at=utcnow())
                  .execution_options(synchronize_session=False))


def fail_exhausted(db: Database, max_attempts: int) -> list[str]:
    """Jobs whose worker died on the last allowed attempt: record them FAILED (never stuck)."""
    now = utcnow()
    with db.session() as s:
        ids = list(s.scalars(select(Job.id).where(Job.attempts >= max_attempts, _abandoned(now))))
        failed = []
        for job_id in ids:
            res = s.execute(
                update(Job)
                .where(Job.id == job_id, _abandoned(now))
                .values(status=JobStatus.FAILED.value, lease_owner=None, lease_expires_at=None, completed_at=now,
                        updated_at=now, cost=0.0, error=f"the worker stopped responding {max_attempts} times",
                        error_code="generation_worker_lost",
                        webhook_state=_webhook_state_expr(), webhook_next_at=now)
                .execution_options(synchronize_session=False))
            if rowcount(res) == 1:
                failed.append(job_id)
        return failed


def _abandoned(now: datetime) -> Any:
    """PENDING (released after its last attempt) or PROCESSING under an expired lease."""
    return or_(Job.status == JobStatus.PENDING.value,
               and_(Job.status == JobStatus.PROCESSING.value, Job.lease_expires_at < now))


def _webhook_state_expr() -> Any:
    from sqlalchemy import case

    return case((Job.webhook_url.is_not(None), "pending"), else_="none")

