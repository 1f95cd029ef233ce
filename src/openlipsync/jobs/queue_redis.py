"""Job dispatch over Redis with Dramatiq (the scale-out ``JobQueue``; ``QUEUE_URL=redis://...``).

Why Dramatiq: its Redis broker moves a fetched message into a per-worker "acks" set and deletes it only
after the actor returns (ack after completion), so a worker killed mid-job never loses the message: the
other workers' broker maintenance moves the dead worker's unacked messages back to the queue once its
heartbeat is older than ``heartbeat_timeout``. That is at-least-once delivery with a standard, widely used
library (no home-made protocol) and no extra scheduler process. Duplicate deliveries are expected and
harmless: the job service claims jobs with a database lease, so a second delivery of a job that is running
or finished is a no-op. The queue carries only job ids; all state lives in the database.

Options ride on the URL's query string and are removed before the URL reaches redis-py::

    redis://host:6379/0?queue=openlipsync-jobs&heartbeat_timeout=60&max_retries=5

Two details of the Redis broker are compensated for here: a consumer whose threads are all busy stops
polling Redis, and polling is what refreshes its heartbeat, so a long job could make a healthy worker look
dead; a small heartbeat thread keeps it fresh and also runs the dead-worker maintenance regularly (stock
Dramatiq runs it on a random 0.1 % of broker commands, which can take many minutes on a quiet queue).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries

log = logging.getLogger("openlipsync.jobs.queue_redis")

_ACTOR_NAME = "openlipsync_run_job"


@dataclass(frozen=True)
class RedisQueueOptions:
    """Tunables of the Redis queue, parsed from ``QUEUE_URL`` query parameters."""

    queue: str = "openlipsync-jobs"
    namespace: str = "openlipsync"
    heartbeat_timeout: float = 60.0  # seconds without a heartbeat before a worker's messages are requeued
    max_retries: int = 5  # redeliveries of a message whose handler raised (the job service records failures)
    min_backoff: float = 1.0  # seconds before the first redelivery after an exception
    max_backoff: float = 60.0
    shutdown_timeout: float = 60.0  # how long a stopping worker waits for jobs in progress

    @classmethod
    def split_url(cls, url: str) -> tuple[str, RedisQueueOptions]:
        """Return (the URL for redis-py, options) from a ``redis://`` or ``rediss://`` URL."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"not a Redis URL: {url!r}")
        ours: dict[str, object] = {}
        rest = []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            field = cls.__dataclass_fields__.get(key)
            if field is None:
                rest.append((key, value))
            else:
                ours[key] = value if field.type == "str" else (int if field.type == "int" else float)(value)
        clean = urlunsplit(parts._replace(query=urlencode(rest)))
        return clean, cls(**ours)  # type: ignore[arg-type]


class _Broker(RedisBroker):
    """RedisBroker whose maintenance can be forced from the heartbeat thread."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._force = threading.local()

    def _should_do_maintenance(self, command: str) -> int:
        if getattr(self._force, "on", False):
            return 1
        return super()._should_do_maintenance(command)

    def heartbeat(self, queue_name: str, *, maintenance: bool) -> None:
        """Refresh this broker's heartbeat (any dispatch does) and optionally requeue dead workers' jobs."""
        self._force.on = maintenance
        try:
            self.do_qsize(queue_name)
        finally:
            self._force.on = False


class RedisJobQueue:
    """``JobQueue`` backed by Redis through Dramatiq: ``enqueue`` on the API side, ``run_worker`` on workers."""

    def __init__(self, url: str) -> None:
        redis_url, self.options = RedisQueueOptions.split_url(url)
        opts = self.options
        self._broker = _Broker(
            url=redis_url,
            namespace=opts.namespace,
            heartbeat_timeout=int(opts.heartbeat_timeout * 1000),
            # Only retries: the job service enforces its own per-job time limit, so Dramatiq's TimeLimit
            # (which injects an exception into the thread after 10 min) and AgeLimit stay out.
            middleware=[Retries(max_retries=opts.max_retries, min_backoff=int(opts.min_backoff * 1000),
                                max_backoff=int(opts.max_backoff * 1000))],
        )
        self._handle: Callable[[str], None] | None = None
        self._actor = dramatiq.Actor(
            self._run, broker=self._broker, actor_name=_ACTOR_NAME, queue_name=opts.queue,
            priority=0, options={},
        )

    def enqueue(self, job_id: str) -> None:
        """Publish ``job_id``; any worker on any machine may pick it up."""
        self._actor.send(job_id)

    def ping(self) -> bool:
        """True when Redis answers (readiness checks)."""
        return bool(self._broker.client.ping())

    def pending_count(self) -> int:
        """Messages waiting for a worker (not those in progress or delayed for a retry)."""
        return int(self._broker.client.llen(f"{self.options.namespace}:{self.options.queue}"))

    def outstanding_count(self) -> int:
        """Messages not acknowledged yet: waiting, delayed for a retry, or being processed."""
        return int(self._broker.do_qsize(self.options.queue))

    def run_worker(self, handle: Callable[[str], None], *, concurrency: int, stop: threading.Event) -> None:
        """Consume jobs with ``concurrency`` threads until ``stop`` is set, calling ``handle(job_id)``.

        A message is acknowledged only after ``handle`` returns; if it raises, Dramatiq redelivers it
        with exponential backoff up to ``max_retries`` times. On stop, jobs in progress get
        ``shutdown_timeout`` seconds to finish; unfinished ones stay unacknowledged and are redelivered.
        """
        self._handle = handle
        worker = dramatiq.Worker(self._broker, worker_threads=concurrency, worker_timeout=500)
        # Prefetch no more than we can run: a message prefetched by a busy worker would wait there
        # while another machine sits idle.
        worker.queue_prefetch = concurrency
        worker.start()
        log.info("redis worker started: queue=%s concurrency=%d", self.options.queue, concurrency)
        beat = max(0.5, self.options.heartbeat_timeout / 6)
        try:
            while not stop.wait(beat):
                try:
                    self._broker.heartbeat(self.options.queue, maintenance=True)
                except Exception:  # a Redis outage must not kill the worker; the consumers reconnect
                    log.warning("heartbeat to redis failed", exc_info=True)
        finally:
            worker.stop(timeout=int(self.options.shutdown_timeout * 1000))
            log.info("redis worker stopped")

    def close(self) -> None:
        """Release the Redis connections."""
        self._broker.close()

    def _run(self, job_id: str) -> None:
        if self._handle is None:  # only a process that called run_worker consumes messages
            raise RuntimeError("RedisJobQueue received a job outside run_worker")
        self._handle(job_id)
