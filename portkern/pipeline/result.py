"""What running one stage task gives back; shared by the DAG, the stages and the executors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portkern.model import Record

STATUSES = ("ok", "failed", "skipped", "estimated")
# Results whose dependents cannot run: a failure, or a skip that itself was forced.
BLOCKING = ("failed", "skipped")


@dataclass
class StageResult(Record):
    stage: str
    task: str
    kernel: str
    candidate_id: str = ""
    status: str = "ok"                  # ok | failed | skipped | estimated
    reason: str = ""                    # why it failed / was skipped / was estimated
    cause: str = ""                     # PortkernError.cause, or a skip cause ("dependency-failed", ...)
    cache_key: str = ""
    cached: bool = False
    seconds: float = 0.0
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.status not in BLOCKING
