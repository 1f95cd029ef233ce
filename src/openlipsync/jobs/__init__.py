"""Jobs: lifecycle, service (create/get/list/cancel/delete/estimate), queue backends and the worker."""

from openlipsync.jobs.queue import JobQueue, open_queue
from openlipsync.jobs.status import JobStatus

__all__ = ["JobQueue", "JobStatus", "open_queue"]
