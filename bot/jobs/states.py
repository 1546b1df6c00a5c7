"""The states of a job and of its items, as the job store writes them (one word each, in its `state` columns)."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """A job's life: pending (waiting for Confirm), running (under a lease), then one of the final states."""

    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"  # verified: not done
    unknown = "unknown"  # said so, with what to check
    cancelled = "cancelled"


class ItemState(StrEnum):
    todo = "todo"
    done = "done"
    failed = "failed"


FINAL_STATES = frozenset({JobState.done, JobState.failed, JobState.unknown, JobState.cancelled})
