"""Progress on long work: counts of stages done/running/failed and a line per kernel (rich, stderr).

The display is transient: when the work ends it gives way to the summary, which says it all once.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from portkern.pipeline.dag import StageResult, Task

STATUS_STYLE = {"ok": "green", "estimated": "cyan", "skipped": "yellow", "failed": "red"}


class NullProgress:
    """For --json and tests: no output."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def started(self, task: Task) -> None: ...

    def finished(self, task: Task, result: StageResult) -> None: ...

    def kernel(self, kernel: str, status: str) -> None: ...


class RichProgress(NullProgress):
    def __init__(self, title: str, console: Console | None = None):
        self.title = title
        self.console = console or Console(stderr=True, highlight=False)
        self.running: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.cached = 0
        self.per_stage: dict[str, Counter[str]] = defaultdict(Counter)
        self.kernels: dict[str, str] = {}
        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.update(self._render())
        self.live.__exit__(*exc)

    def started(self, task: Task) -> None:
        self.running.add(task.id)
        self.kernels.setdefault(task.kernel, "queued")
        if self.kernels[task.kernel] == "queued":
            self.kernels[task.kernel] = "running"
        self.live.update(self._render())

    def finished(self, task: Task, result: StageResult) -> None:
        self.running.discard(task.id)
        self.counts[result.status] += 1
        self.cached += int(result.cached)
        self.per_stage[result.stage][result.status] += 1
        self.live.update(self._render())

    def kernel(self, kernel: str, status: str) -> None:
        self.kernels[kernel] = status
        self.live.update(self._render())

    def _render(self):
        head = Text.assemble((f"{self.title}  ", "bold"),
                             *[(f"{s} {self.counts[s]}  ", STATUS_STYLE[s]) for s in STATUS_STYLE],
                             (f"running {len(self.running)}  cached {self.cached}", "dim"))
        stages = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
        stages.add_column("stage")
        for s in STATUS_STYLE:
            stages.add_column(s)
        for name, c in self.per_stage.items():
            stages.add_row(name, *[str(c[s]) for s in STATUS_STYLE])
        kernels = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
        kernels.add_column("kernel")
        kernels.add_column("status")
        for k, s in self.kernels.items():
            kernels.add_row(k, s)
        return Group(head, stages, kernels)
