from __future__ import annotations

from pathlib import Path

import click

from portkern.cli.output import emit_json, json_option

_sources = click.argument("sources", nargs=-1, type=click.Path(exists=True, path_type=Path))
_rows_option = click.option("--rows", "rows_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                            help="A rows file written by `model fit --save-rows` (run folders named too are added to it).")


_measured_option = click.option(
    "--measured", nargs=2, type=click.Path(exists=True, path_type=Path), multiple=True,
    metavar="RESULTS RUN", help="Timings recorded by benchmarks/bench_gpu_blas.py (RESULTS, a JSON file) with "
                               "features from RUN, a run folder of the same library and target; repeatable.")


def _rows(sources: tuple[Path, ...], rows_file: Path | None, measured: tuple = ()) -> list:
    from portkern.config import load_config
    from portkern.errors import ConfigError
    from portkern.perfmodel import data

    warn = lambda m: click.echo(m, err=True)  # noqa: E731
    if rows_file is not None:
        # saved rows, and the timings of any run folders named beside them (new GPU runs added to old rows)
        return data.read_rows_file(rows_file) + (data.load_rows(list(sources), warn=warn) if sources else [])
    rows = [r for results, run in measured for r in data.rows_from_measurements(results, run, warn)]
    if measured and not sources:
        if not rows:
            raise ConfigError("the --measured files hold no device timings of kernels in their run folders",
                              hint="check that the results and the run are of the same library and target")
        return rows
    paths = list(sources) or [Path(load_config()["runs_dir"])]
    rows += data.load_rows(paths, warn=warn)
    if not rows:
        raise ConfigError(f"no device timings in {', '.join(map(str, paths))}",
                          hint="the model learns from `portkern port` runs on a GPU; estimates are never used")
    return rows


@click.group("model")
def command() -> None:
    """The performance model: fit it on the GPU timings of past runs, and measure how well it ranks."""


@command.command("eval")
@_sources
@_rows_option
@_measured_option
@json_option
def evaluate_cmd(sources: tuple[Path, ...], rows_file: Path | None, measured: tuple, as_json: bool) -> None:
    """Leave-one-kernel-family-out figures on runs' device timings (default: the runs folder):
    Spearman rho within each kernel's candidates, interval coverage, top-10% regret."""
    from portkern.perfmodel.evaluate import evaluate

    result = evaluate(_rows(sources, rows_file, measured))
    if as_json:
        emit_json(result.to_dict())
        return
    for line in result.lines():
        click.echo(line)
    for kernel, rho in result.spearman_by_kernel.items():
        click.echo(f"  {kernel}: rho {rho:.2f}")


@command.command("fit")
@_sources
@_rows_option
@_measured_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the fitted model (JSON); use it with PORTKERN_PERFMODEL=FILE.")
@click.option("--save-rows", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the training rows (JSON lines) the model was fitted on.")
@json_option
def fit_cmd(sources: tuple[Path, ...], rows_file: Path | None, measured: tuple, out: Path, save_rows: Path | None,
            as_json: bool) -> None:
    """Fit the learned correction and the conformal interval widths on runs' device timings."""
    from portkern.perfmodel import data
    from portkern.perfmodel.model import PerfModel

    rows = _rows(sources, rows_file, measured)
    model = PerfModel.fit(rows)
    model.save(out)
    if save_rows:
        data.save_rows(rows, save_rows)
    info = {"out": str(out), "q_abs": model.q_abs, "q_pair": model.q_pair, **model.trained_on}
    if as_json:
        emit_json(info)
        return
    click.echo(f"fitted on {len(rows)} timing(s) of {len(model.trained_on['kernels'])} kernel(s) "
               f"({', '.join(model.trained_on['devices'])}); 90% interval: time x/÷ {2.718281828 ** model.q_abs:.2f}, "
               f"speedup x/÷ {2.718281828 ** model.q_pair:.2f}; written to {out}")


@command.command("show")
@click.option("--model", "model_path", default="", help="Model file (default: $PORTKERN_PERFMODEL, else the shipped one).")
@json_option
def show_cmd(model_path: str, as_json: bool) -> None:
    """Which model a port would use, what it was fitted on, and its interval widths."""
    from portkern.perfmodel.model import PerfModel

    model = PerfModel.load(model_path or None)
    info = {"path": model.path or "(none: analytic only, uncalibrated)", "calibrated": model.calibrated,
            "q_abs": model.q_abs, "q_pair": model.q_pair, "trained_on": model.trained_on}
    if as_json:
        emit_json(info)
        return
    click.echo(f"model: {info['path']}; calibrated: {model.calibrated}")
    if model.calibrated:
        t = model.trained_on
        click.echo(f"fitted on {t.get('rows')} device timing(s), kernels {', '.join(t.get('kernels', []))}, "
                   f"devices {', '.join(t.get('devices', []))}, runs {len(t.get('runs', []))}")
