"""Results of a translation: what changed, what could not be converted, which hazards were found."""

from __future__ import annotations

from dataclasses import dataclass, field

from portkern.model import Record


@dataclass
class SourceRegion(Record):
    """An exact span of the input, handed to the model stage when a rule cannot fix something."""

    file: str
    start_line: int
    end_line: int
    text: str
    function: str = ""               # enclosing function, when known


@dataclass
class Hazard(Record):
    file: str
    line: int
    col: int
    kind: str                        # e.g. "warp-size-literal", "inline-asm", "wmma"
    severity: str                    # "info" | "warning" | "error"
    message: str                     # one line: what is wrong and what to do
    fixed: bool = False              # True when the translator applied a safe fix
    region: SourceRegion | None = None


@dataclass
class Unconverted(Record):
    name: str
    file: str
    line: int
    col: int
    reason: str = ""                 # "no counterpart" | "unknown name"
    library: str = ""                # the API the name belongs to (runtime, driver, cublas, cudnn, ...), when known
    note: str = ""                   # e.g. "MIOpen name miopenFoo with --roc"


@dataclass
class TranslationResult(Record):
    filename: str
    to: str                          # "hip" | "cuda"
    text: str
    converted: dict[str, int] = field(default_factory=dict)   # category -> replacements made
    unconverted: list[Unconverted] = field(default_factory=list)
    hazards: list[Hazard] = field(default_factory=list)
    local_includes: list[str] = field(default_factory=list)   # #include "..." names seen

    @property
    def changed_count(self) -> int:
        return sum(self.converted.values())

    def unfixed_hazards(self) -> list[Hazard]:
        return [h for h in self.hazards if not h.fixed and h.severity != "info"]
