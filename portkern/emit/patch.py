"""The patch of a run, against the library's own source tree.

- Same dialect (tuning): a unified diff touching only what changed: the definition of a kernel whose
  code the selected candidate rewrote, and the named constants its launch uses for tuned parameters.
  Everything else keeps its original formatting.
- Other dialect (port): the selected candidates as new files under ``<dialect>/``, laid out the way
  the library would hold a second backend (one file per kernel, beside a folder per original file).

Paths are relative to the library root, so ``git apply`` works in a pristine copy of that folder.
"""

from __future__ import annotations

import difflib
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from portkern.errors import PortkernError
from portkern.library import KernelSpec, LibrarySpec, load_library
from portkern.pipeline.runread import evaluations, read_rows

EXT = {"hip": ".hip", "cuda": ".cu"}


class PatchError(PortkernError):
    cause = "patch"


@dataclass
class PatchPlan:
    run_id: str
    library: LibrarySpec
    target: str
    mode: str                                            # "tune" | "port"
    edits: dict[str, list[str]] = field(default_factory=dict)   # rel path -> new lines (modified files)
    new_files: dict[str, str] = field(default_factory=dict)     # rel path -> text (port)
    notes: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)           # one line per changed kernel


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _kernel_lines(source: str, symbol: str, dialect: str, macros) -> tuple[int, int] | None:
    """1-based line span of kernel ``symbol`` in a source text, found with the ingest parser."""
    from portkern.ingest import ingest_tree

    with tempfile.TemporaryDirectory() as tmp:
        name = "unit" + EXT[dialect]
        (Path(tmp) / name).write_text(source)
        catalog = ingest_tree(tmp, profile="rocblas" if dialect == "hip" else "cuda", macros=macros)
    spans = [(k.line, k.end_line) for k in catalog.kernels if k.name == symbol]
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


def _constant_sites(library: LibrarySpec) -> dict[str, tuple[str, int, re.Match]]:
    """Named integer constants in the library's files: name -> (file, line index, match)."""
    pattern = re.compile(r"^(\s*(?:static\s+)?(?:constexpr|const)\s+[\w:]+\s+(\w+)\s*=\s*)(\d+)(\s*;.*)$|"
                         r"^(\s*#\s*define\s+(\w+)\s+)(\d+)(\s*(?://.*)?)$")
    out: dict[str, tuple[str, int, re.Match]] = {}
    root = Path(library.root)
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".h", ".hpp", ".cuh", ".cpp", ".cu", ".hip", ".hh"):
            continue
        for i, line in enumerate(path.read_text(errors="replace").splitlines()):
            m = pattern.match(line)
            if m:
                out.setdefault(m.group(2) or m.group(6), (str(path.relative_to(root)), i, m))
    return out


def _file_lines(plan: PatchPlan, rel: str) -> list[str]:
    if rel not in plan.edits:
        plan.edits[rel] = (Path(plan.library.root) / rel).read_text().splitlines(keepends=True)
    return plan.edits[rel]


def _tune_kernel(plan: PatchPlan, spec: KernelSpec, base: dict, sel: dict, catalog, constants, claimed: dict) -> None:
    lib = plan.library
    changed = False
    b_src, s_src = base["candidate"]["source"], sel["candidate"]["source"]
    if _squash(b_src) != _squash(s_src):
        span_new = _kernel_lines(s_src, spec.symbol, lib.dialect, lib.macros)
        originals = [k for k in catalog.kernels if k.name == spec.symbol]
        if span_new and originals:
            k = originals[0]
            new_text = s_src.splitlines(keepends=True)[span_new[0] - 1:span_new[1]]
            lines = _file_lines(plan, k.file)
            lines[k.line - 1:k.end_line] = new_text
            changed = True
        else:
            plan.notes.append(f"{spec.name}: the rewritten kernel could not be located for a source edit; not patched")
    launch = spec.launches[0]
    pb, ps = base["candidate"].get("params", {}), sel["candidate"].get("params", {})
    for param, value in sorted(ps.items()):
        if pb.get(param) == value:
            continue
        idx = next((i for i, t in enumerate(launch.template_args) if t.strip() == param), None)
        names = set()
        if idx is not None:
            for k in catalog.kernels:
                if k.name != spec.symbol:
                    continue
                for site in k.launch_sites:
                    if idx < len(site.template_args) and re.fullmatch(r"\w+", site.template_args[idx].strip()):
                        names.add(site.template_args[idx].strip())
        names = {n for n in names if n in constants}
        if not names:
            plan.notes.append(f"{spec.name}: {param}={value} has no named constant at the kernel's launch sites; "
                              "set it where the library launches the kernel")
            continue
        for name in sorted(names):
            if name in claimed and claimed[name] != value:
                plan.notes.append(f"{spec.name}: {name} is also tuned to {claimed[name]} by another kernel; kept that value")
                continue
            claimed[name] = value
            rel, i, m = constants[name]
            lines = _file_lines(plan, rel)
            nl = "\n" if lines[i].endswith("\n") else ""
            if m.group(2):
                lines[i] = f"{m.group(1)}{value}{m.group(4)}{nl}"
            else:
                lines[i] = f"{m.group(5)}{value}{m.group(8)}{nl}"
            changed = True
    if changed:
        plan.evidence.append(_evidence(spec.name, base, sel))


def _evidence(name: str, base: dict, sel: dict) -> str:
    bms, sms = base.get("score_ms") or 0, sel.get("score_ms") or 0
    method = ((sel.get("bench") or [{}])[0]).get("method", "?")
    val = sel.get("validation") or {}
    speed = f"{bms / sms:.2f}x" if bms and sms else "n/a"
    return (f"{name}: {bms:.4g} ms -> {sms:.4g} ms ({speed}, {method}); validated on {val.get('device', '?')} "
            f"over {len(val.get('cases', []))} cases; params {json.dumps(sel['candidate'].get('params', {}), sort_keys=True)}")


def plan_patch(run_dir: str | Path) -> PatchPlan:
    run_dir = Path(run_dir)
    rows = read_rows(run_dir)
    run, kernels = rows.run, rows.kernels
    library = load_library(run["library"])
    mode = "tune" if run["source_dialect"] == run["target_dialect"] else "port"
    plan = PatchPlan(run_id=run_dir.name, library=library, target=run["target"], mode=mode)
    catalog = constants = None
    claimed: dict[str, int] = {}
    for name, row in sorted(kernels.items()):
        sel_id, base_id = row.get("selected_candidate"), row.get("base_candidate")
        if not sel_id:
            continue
        evs = evaluations(run_dir, name)
        sel, base = evs.get(sel_id), evs.get(base_id)
        if not sel or not (sel.get("validation") or {}).get("passed"):
            continue
        spec = library.kernel(name)
        if mode == "port":
            stem = Path(spec.file).with_suffix("")
            rel = f"{run['target_dialect']}/{stem}/{name}{EXT[run['target_dialect']]}"
            header = (f"// Ported by portkern from {spec.file} ({run['source_dialect']} -> {run['target_dialect']}), "
                      f"run {run_dir.name}.\n// Evidence: {_evidence(name, base or sel, sel)}\n")
            plan.new_files[rel] = header + sel["candidate"]["source"].rstrip("\n") + "\n"
            plan.evidence.append(_evidence(name, base or sel, sel))
            continue
        if sel_id == base_id or not base or row.get("status") != "improved":
            continue
        if catalog is None:
            from portkern.ingest import ingest_library

            catalog = ingest_library(library)
            constants = _constant_sites(library)
        _tune_kernel(plan, spec, base, sel, catalog, constants, claimed)
    return plan


def render(plan: PatchPlan) -> str:
    out: list[str] = []
    root = Path(plan.library.root)
    for rel in sorted(plan.edits):
        old = (root / rel).read_text().splitlines(keepends=True)
        new = plan.edits[rel]
        if old == new:
            continue
        out.append(f"diff --git a/{rel} b/{rel}\n")
        out.extend(difflib.unified_diff(old, new, f"a/{rel}", f"b/{rel}"))
    for rel, text in sorted(plan.new_files.items()):
        lines = text.splitlines(keepends=True)
        out.append(f"diff --git a/{rel} b/{rel}\nnew file mode 100644\n--- /dev/null\n+++ b/{rel}\n")
        out.append(f"@@ -0,0 +1,{len(lines)} @@\n")
        out.extend("+" + ln for ln in lines)
    return "".join(out)


def commit_message(plan: PatchPlan) -> str:
    title = (f"portkern: tune {plan.library.name} kernels for {plan.target}" if plan.mode == "tune"
             else f"portkern: port {plan.library.name} kernels to {plan.target}")
    body = ["Evidence (run " + plan.run_id + "):", *[f"- {e}" for e in plan.evidence]]
    if plan.notes:
        body += ["", "Not patched:", *[f"- {n}" for n in plan.notes]]
    return title + "\n\n" + "\n".join(body) + "\n"


def write_patch(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    plan = plan_patch(run_dir)
    out = run_dir / "emit" / "port.patch"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(plan))
    (run_dir / "emit" / "COMMIT_MSG").write_text(commit_message(plan))
    return out


def apply_as_commit(run_dir: str | Path, checkout: str | Path) -> str:
    """Create branch ``portkern/<run>`` in the library checkout, apply the patch, commit. Returns the branch."""
    run_dir, checkout = Path(run_dir), Path(checkout)
    plan = plan_patch(run_dir)
    patch = render(plan)
    if not patch:
        raise PatchError(f"run {run_dir.name} changes nothing in {plan.library.name}", hint="nothing to commit")
    top = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode != 0:
        raise PatchError(f"{checkout} is not a git checkout", hint="pass --checkout pointing at the library's git tree")
    prefix = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--show-prefix"], capture_output=True,
                            text=True).stdout.strip()
    branch = f"portkern/{run_dir.name}"

    def git(*args: str, stdin: str | None = None) -> None:
        r = subprocess.run(["git", "-C", str(checkout), *args], input=stdin, capture_output=True, text=True)
        if r.returncode != 0:
            raise PatchError(f"git {' '.join(args[:2])} failed in {checkout}: {r.stderr.strip()}")

    git("checkout", "-b", branch)
    apply_args = ["apply", "--index"] + ([f"--directory={prefix.rstrip('/')}"] if prefix else []) + ["-"]
    git(*apply_args, stdin=patch)
    git("-c", "user.name=portkern", "-c", "user.email=portkern@localhost", "commit", "-q", "-F", "-",
        stdin=commit_message(plan))
    return branch
