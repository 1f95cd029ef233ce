"""Webhooks: POST the job object when it completes or fails, signed like Sync's (reference §9).

``Sync-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`` where body is the compact JSON
sent (``json.dumps(payload, separators=(",", ":"))``), the exact bytes official verifiers rebuild.
Deliveries are durable: the job row says a webhook is due (``webhook_state``/``webhook_next_at``), any
worker's maintenance loop sends it, every attempt is recorded, failures retry with exponential backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from openlipsync.config import Settings
from openlipsync.db import Batch, Database, Job, Tenant, WebhookDelivery
from openlipsync.db.models import utcnow
from openlipsync.db.session import rowcount
from openlipsync.jobs.links import LinkSigner
from openlipsync.jobs.status import JobStatus
from openlipsync.jobs.views import Links, iso, v2_generation
from openlipsync.security.transport import safe_client

log = logging.getLogger("openlipsync.jobs.webhooks")


def compact_json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, tolerance_seconds: float = 300) -> bool:
    """Check a ``Sync-Signature`` header (what a receiver does; used by our tests)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - t) > tolerance_seconds:
        return False
    expected = signature_header(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class WebhookSender:
    def __init__(self, settings: Settings, db: Database, signer: LinkSigner,
                 client: httpx.Client | None = None) -> None:
        self.settings, self.db, self.signer = settings, db, signer
        # SSRF rules of security/urlfetch apply to webhook URLs too (checked address, no redirects)
        self.client = client or safe_client(settings)

    def deliver_due(self, limit: int = 20) -> int:
        """Send every webhook that is due now; return how many attempts were made."""
        now = utcnow()
        with self.db.session() as s:
            due = list(s.execute(select(Job.id, Job.webhook_next_at).where(
                Job.webhook_state == "pending", Job.webhook_next_at <= now).limit(limit)))
        sent = 0
        for job_id, next_at in due:
            if self._take(job_id, next_at):
                self._deliver_job(job_id)
                sent += 1
        return sent + self._deliver_batches()

    def _take(self, job_id: str, next_at: Any) -> bool:
        # Optimistic lock: push the due time forward; only the worker whose UPDATE matched sends.
        hold = utcnow() + timedelta(seconds=self.settings.webhook_timeout_seconds * 3)
        with self.db.session() as s:
            res = s.execute(update(Job).where(Job.id == job_id, Job.webhook_state == "pending",
                                              Job.webhook_next_at == next_at)
                            .values(webhook_next_at=hold).execution_options(synchronize_session=False))
            return rowcount(res) == 1

    def _secret(self, tenant_id: str) -> str:
        with self.db.session() as s:
            tenant = s.get(Tenant, tenant_id)
        return tenant.webhook_secret if tenant else (self.settings.webhook_secret or "")

    def _base(self, job_base: str | None) -> str:
        # the base recorded when the job was created already carries the prefix
        return self.settings.external_base() if self.settings.public_url or not job_base else job_base.rstrip("/")

    def _deliver_job(self, job_id: str) -> None:
        with self.db.session() as s:
            job = s.get(Job, job_id)
        if job is None or not job.webhook_url:
            return
        payload = v2_generation(job, Links(self._base(job.base_url), self.signer))
        ok = self._post(job.webhook_url, payload, self._secret(job.tenant_id), job.webhook_attempts + 1,
                        job_id=job.id)
        attempts = job.webhook_attempts + 1
        state = "delivered" if ok else ("failed" if attempts >= self.settings.webhook_max_attempts else "pending")
        delay = self.settings.webhook_backoff_seconds * (2 ** (attempts - 1))
        with self.db.session() as s:
            s.execute(update(Job).where(Job.id == job_id).values(
                webhook_state=state, webhook_attempts=attempts,
                webhook_next_at=utcnow() + timedelta(seconds=delay)).execution_options(synchronize_session=False))

    def _post(self, url: str, payload: dict[str, Any], secret: str, attempt: int, *, job_id: str | None = None,
              batch_id: str | None = None) -> bool:
        body = compact_json(payload)
        sig = signature_header(secret, body)
        headers = {"Content-Type": "application/json", "Sync-Signature": sig, "X-Signature-Primary": sig,
                   "User-Agent": "openlipsync-webhooks/1"}
        status, error = None, None
        try:
            resp = self.client.post(url, content=body, headers=headers)
            status = resp.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        with self.db.session() as s:
            s.add(WebhookDelivery(job_id=job_id, batch_id=batch_id, url=url, attempt=attempt, status_code=status,
                                  error=error, succeeded=ok))
        if not ok:
            log.warning("webhook %s attempt %d failed: %s", url, attempt, error or status)
        return ok

    def _deliver_batches(self) -> int:
        """Batches whose jobs are all finished get a webhook with the batch object (retried like jobs')."""
        now = utcnow()
        with self.db.session() as s:
            batches = list(s.scalars(select(Batch).where(
                Batch.webhook_state.in_(("waiting", "sending")),
                (Batch.webhook_next_at.is_(None)) | (Batch.webhook_next_at <= now)).limit(20)))
        sent = 0
        for batch in batches:
            payload = batch_view(self.db, batch, None)
            if payload["status"] not in ("COMPLETED", "FAILED") or not batch.webhook_url:
                continue
            hold = now + timedelta(seconds=self.settings.webhook_timeout_seconds * 3)
            with self.db.session() as s:  # optimistic lock, as for jobs
                same_due = (Batch.webhook_next_at.is_(None) if batch.webhook_next_at is None
                            else Batch.webhook_next_at == batch.webhook_next_at)
                res = s.execute(update(Batch).where(Batch.id == batch.id, same_due,
                                                    Batch.webhook_state.in_(("waiting", "sending")))
                                .values(webhook_state="sending", webhook_next_at=hold)
                                .execution_options(synchronize_session=False))
                if rowcount(res) != 1:
                    continue
            attempts = batch.webhook_attempts + 1
            ok = self._post(batch.webhook_url, payload, self._secret(batch.tenant_id), attempts, batch_id=batch.id)
            state = "delivered" if ok else ("failed" if attempts >= self.settings.webhook_max_attempts else "sending")
            delay = self.settings.webhook_backoff_seconds * (2 ** (attempts - 1))
            with self.db.session() as s:
                s.execute(update(Batch).where(Batch.id == batch.id).values(
                    webhook_state=state, webhook_attempts=attempts,
                    webhook_next_at=utcnow() + timedelta(seconds=delay)).execution_options(synchronize_session=False))
            sent += 1
        return sent


def batch_view(db: Database, batch: Batch, results_url: str | None) -> dict[str, Any]:
    """Sync's BatchResponse (mixed casing is theirs): status and metrics computed from the jobs."""
    with db.session() as s:
        statuses = [JobStatus(v) for v in s.scalars(select(Job.status).where(Job.batch_id == batch.id))]
    done = sum(st is JobStatus.COMPLETED for st in statuses)
    failed = sum(st.terminal and st is not JobStatus.COMPLETED for st in statuses)
    pending = len(statuses) - done - failed
    if pending == 0 and statuses:
        status = "COMPLETED" if done else "FAILED"
    elif any(st is JobStatus.PROCESSING for st in statuses) or done or failed:
        status = "PROCESSING"
    else:
        status = "JOBS_CREATED" if statuses else "PENDING"
    return {"id": batch.id, "created_at": iso(batch.created_at), "status": status,
            "metrics": {"total_generations": len(statuses), "success_count": done, "failed_count": failed,
                        "pending_count": pending},
            "webhookUrl": batch.webhook_url, "outputUrl": results_url}
