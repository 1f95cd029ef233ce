"""Webhooks: signed like Sync's, retried with backoff, every attempt recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from openlipsync.db import WebhookDelivery
from openlipsync.jobs.platform import Platform
from openlipsync.jobs.tenants import CreatedKey
from openlipsync.jobs.webhooks import compact_json, signature_header, verify_signature
from openlipsync.jobs.worker import Worker
from tests.api.support import WebhookReceiver, verify_sync_signature, wait_until
from tests.jobs.helpers import load, submit


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver(statuses=[500, 503])  # the first two deliveries fail
    yield r
    r.close()


def test_signature_format_matches_the_reference() -> None:
    body = compact_json({"id": "g1", "status": "COMPLETED"})
    assert body == b'{"id":"g1","status":"COMPLETED"}'
    header = signature_header("whsec_test", body, timestamp=1700000000)
    assert header == "t=1700000000,v1=" + __import__("hmac").new(
        b"whsec_test", b"1700000000." + body, "sha256").hexdigest()
    assert verify_sync_signature("whsec_test", signature_header("whsec_test", body), body)
    assert not verify_signature("whsec_other", body, signature_header("whsec_test", body))


def test_completion_webhook_is_signed_retried_and_recorded(platform: Platform, key: CreatedKey, tiny_dir: Path,
                                                           receiver: WebhookReceiver) -> None:
    job_id = submit(platform, key, tiny_dir, webhook_url=receiver.url)
    w = Worker(platform)
    w.drain()
    wait_until(lambda: (w.webhooks.deliver_due(), load(platform, job_id).webhook_state == "delivered")[1],
               timeout=30, interval=0.1)
    assert len(receiver.requests) == 3
    for headers, body in receiver.requests:
        assert verify_sync_signature(key.webhook_secret, headers["sync-signature"], body)
        assert json.dumps(json.loads(body), separators=(",", ":")).encode() == body  # compact JSON on the wire
    payload = json.loads(receiver.requests[-1][1])
    assert payload["id"] == job_id and payload["status"] == "COMPLETED" and payload["outputUrl"]
    assert payload["webhookUrl"] == receiver.url
    with platform.db.session() as s:
        attempts = list(s.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
                                  .order_by(WebhookDelivery.attempt)))
    assert [(a.attempt, a.status_code, a.succeeded) for a in attempts] == [(1, 500, False), (2, 503, False),
                                                                          (3, 200, True)]
    gaps = [(b.created_at - a.created_at).total_seconds() for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # exponential backoff: 0.2 s, then 0.4 s (lower bounds only)


def test_failure_webhook_carries_error_code(platform: Platform, key: CreatedKey, tiny_dir: Path) -> None:
    r = WebhookReceiver()
    try:
        job_id = submit(platform, key, tiny_dir, webhook_url=r.url, options={"sync_mode": "loop"})
        platform.jobs.cancel(key.tenant_id, job_id)  # cancelled jobs send no webhook (Sync: COMPLETED|FAILED)
        job_id2 = submit(platform, key, tiny_dir, webhook_url=r.url)
        from openlipsync.errors import NoFaceError

        def fail(*_a: object, **_k: object) -> object:
            raise NoFaceError("no face")

        platform.runner = fail
        Worker(platform).drain()
        wait_until(lambda: r.requests, timeout=30)
        payloads = [json.loads(b) for _h, b in r.requests]
        got = [(p["id"], p["status"], p["error_code"]) for p in payloads]
        assert got == [(job_id2, "FAILED", "generation_no_face")]
    finally:
        r.close()


def test_unreachable_webhook_gives_up_after_max_attempts(platform: Platform, key: CreatedKey,
                                                         tiny_dir: Path) -> None:
    platform.settings.webhook_max_attempts = 2
    job_id = submit(platform, key, tiny_dir, webhook_url="http://127.0.0.1:1/closed")
    w = Worker(platform)
    w.drain()
    wait_until(lambda: (w.webhooks.deliver_due(), load(platform, job_id).webhook_state == "failed")[1], timeout=30)
    job = load(platform, job_id)
    assert job.webhook_attempts == 2 and job.status == "COMPLETED"


def test_batch_webhook_is_sent_once_when_every_job_finished(platform: Platform, key: CreatedKey,
                                                            media_url: str) -> None:
    from fastapi.testclient import TestClient

    from openlipsync.api import create_app

    r = WebhookReceiver(statuses=[502])  # the first delivery fails and is retried
    try:
        line = {"endpoint": "/v2/generate", "payload": {"model": "lipsync-2", "input": [
            {"type": "video", "url": f"{media_url}/face.mp4"}, {"type": "audio", "url": f"{media_url}/tone.wav"}]}}
        jsonl = "\n".join(json.dumps({**line, "request_id": f"r{i}"}) for i in range(2)).encode()
        with TestClient(create_app(platform.settings, platform=platform, studio=False)) as client:
            batch = client.post("/v2/batch", headers={"x-api-key": key.key}, files={"input": ("b.jsonl", jsonl)},
                                data={"webhook_url": r.url}).json()
        w = Worker(platform)
        w.webhooks.deliver_due()
        assert r.requests == []  # not before the jobs are done
        w.drain()
        w.webhooks.deliver_due()
        assert len(r.requests) == 1
        wait_until(lambda: (w.webhooks.deliver_due(), len(r.requests) >= 2)[1], timeout=30)
        w.webhooks.deliver_due()
        assert len(r.requests) == 2  # delivered once it succeeded, never again
        with platform.db.session() as s:
            tries = [(d.attempt, d.status_code) for d in s.scalars(
                select(WebhookDelivery).where(WebhookDelivery.batch_id == batch["id"]).order_by(WebhookDelivery.id))]
        assert tries == [(1, 502), (2, 200)]
        headers, body = r.requests[1]
        assert verify_sync_signature(key.webhook_secret, headers["sync-signature"], body)
        payload = json.loads(body)
        assert payload["id"] == batch["id"] and payload["status"] == "COMPLETED"
        assert payload["metrics"]["success_count"] == 2
    finally:
        r.close()
