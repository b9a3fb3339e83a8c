from __future__ import annotations

from pathlib import Path

import click

from portkern.cli.output import console, emit_json, json_option
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
@click.option("--git", "as_git", is_flag=True, help="Create a branch and a commit in the library checkout.")
@click.option("--checkout", type=click.Path(path_type=Path), default=None,
              help="The library's git checkout for --git (default: the library folder itself).")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None, help="Write the patch here too.")
@json_option
def command(run, runs_dir, as_git, checkout, out, as_json) -> None:
    """The patch of RUN against the library's source tree (applies with `git apply` in a pristine copy),
    with the evidence in its commit message; --git makes a branch and a commit."""
    from portkern.emit.patch import apply_as_commit, commit_message, plan_patch, render

    run_dir = resolve_run(run, runs_dir)
    plan = plan_patch(run_dir)
    patch = render(plan)
    if out:
        out.write_text(patch)
    branch = ""
    if as_git:
        branch = apply_as_commit(run_dir, checkout or plan.library.root)
    if as_json:
        emit_json({"run": run_dir.name, "mode": plan.mode, "files_modified": sorted(plan.edits),
                   "files_added": sorted(plan.new_files), "notes": plan.notes, "evidence": plan.evidence,
                   "branch": branch, "patch": patch})
        return
    if not patch:
        console.print(f"run {run_dir.name}: nothing to patch (no kernel improved or ported)")
    elif not out:
        click.echo(patch, nl=False)
    console.print(commit_message(plan), style="dim", highlight=False)
    if branch:
        console.print(f"committed on branch {branch}")
