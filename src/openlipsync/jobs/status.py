"""The job lifecycle: states, the allowed transitions, and how each API surface spells them."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"  # refused at validation (batch lines); never ran
    CANCELED = "CANCELED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def v1(self) -> str:
        """Native API spelling: the four seed states; rejected and cancelled read as failed."""
        return _V1.get(self, "failed")

    @classmethod
    def parse_v1(cls, value: str) -> tuple[JobStatus, ...]:
        """The stored states a v1 ``status`` filter value selects."""
        value = value.strip().lower()
        matches = tuple(s for s in cls if s.v1 == value)
        if not matches:
            raise ValueError(f"unknown status {value!r}")
        return matches


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.REJECTED, JobStatus.CANCELED})

_V1 = {JobStatus.PENDING: "pending", JobStatus.PROCESSING: "processing", JobStatus.COMPLETED: "completed"}

# from-state -> states it may move to. PROCESSING -> PENDING is a lease release/recovery (retry).
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.PROCESSING, JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.PROCESSING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED,
                                     JobStatus.PENDING}),
}


def can_transition(src: JobStatus, dst: JobStatus) -> bool:
    """Whether ``src -> dst`` is a legal move (terminal states never move)."""
    return dst in TRANSITIONS.get(src, frozenset())


def sources_of(dst: JobStatus) -> tuple[str, ...]:
    """Stored status values from which ``dst`` may be reached (for conditional UPDATEs)."""
    return tuple(src.value for src, dsts in TRANSITIONS.items() if dst in dsts)
