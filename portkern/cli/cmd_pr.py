from __future__ import annotations

from pathlib import Path

import click

from portkern.cli.output import emit_json, err_console, json_option
from portkern.errors import ConfigError


def resolve_run(run: str, runs_dir: Path) -> Path:
    p = Path(run)
    if p.is_dir():
        return p
    if (runs_dir / run).is_dir():
        return runs_dir / run
    raise ConfigError(f"run '{run}' not found (looked in {runs_dir})", hint="see `portkern runs`")


@click.command("pr")
@click.argument("run")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(path_type=Path))
@click.option("--git", "as_git", is_flag=True,
              help="Commit the patch on a new branch portkern/RUN, in a new git worktree of the checkout.")
@click.option("--checkout", type=click.Path(path_type=Path), default=None,
              help="The library's git checkout for --git (default: the library folder the run read).")
@click.option("--worktree", type=click.Path(path_type=Path), default=None,
              help="Folder of the new worktree for --git (default: beside the checkout).")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None, help="Write the patch to this file.")
@json_option
def command(run, runs_dir, as_git, checkout, worktree, out, as_json) -> None:
    """The patch of RUN as `git format-patch` output, evidence in its message: `portkern pr RUN >
    x.patch; git am x.patch` in the library's checkout. --git does that for you on a new branch in a
    new worktree, as you (your git identity), leaving your checkout as it is."""
    from portkern.emit.patch import apply_as_commit, format_patch, plan_patch
    from portkern.library import load_library
    from portkern.pipeline.runread import library_origin

    run_dir = resolve_run(run, runs_dir)
    plan = plan_patch(run_dir)
    patch = format_patch(plan)
    if out:
        from portkern.fsio import write_text

        write_text(out, patch)
    branch, tree = "", None
    if as_git:
        if checkout is None:
            checkout = Path(load_library(library_origin(run_dir)).root)
        branch, tree = apply_as_commit(run_dir, checkout, worktree)
    if as_json:
        emit_json({"run": run_dir.name, "mode": plan.mode, "files_modified": sorted(plan.edits),
                   "files_added": sorted(plan.new_files), "notes": plan.notes, "evidence": plan.evidence,
                   "branch": branch, "worktree": str(tree) if tree else "", "patch": patch})
        return
    if not patch:
        err_console.print(f"run {run_dir.name}: nothing to patch (no kernel improved or ported)", highlight=False)
    elif not out and not as_git:
        click.echo(patch, nl=False)
    if out and patch:
        err_console.print(f"wrote {out} (apply with: git am {out})", highlight=False)
    if branch:
        err_console.print(f"committed on branch {branch} in worktree {tree}", highlight=False)
