from __future__ import annotations

import click

from portkern.cli.output import emit_json, json_option, table
from portkern.config import load_config


@click.group("llm")
def command() -> None:
    """The model server: is it reachable, is the model there, and a one-off question."""


@command.command("status")
@json_option
def status(as_json: bool) -> None:
    """Provider, URL, whether the server answers and whether the configured model is present."""
    from portkern.llm import probe

    result = probe(load_config())
    if as_json:
        emit_json({**result.to_dict(), "ready": result.ready})
        return
    table("portkern llm", ["provider", "url", "model", "reachable", "model present", "details"],
          [[result.provider, result.url, result.model, result.reachable, result.model_present,
            ", ".join(f"{k}={v}" for k, v in result.details.items())]])
    if result.message:
        click.echo(result.message)


@command.command("ask")
@click.argument("prompt")
@click.option("--max-tokens", type=int, default=None, help="Reply length limit (default: llm.max_tokens).")
@json_option
def ask(prompt: str, max_tokens: int | None, as_json: bool) -> None:
    """Send PROMPT to the configured model (cached, recorded like pipeline calls) and print the reply."""
    from portkern.errors import ModelError
    from portkern.llm import MemoryRecorder, connect

    recorder = MemoryRecorder()
    conn = connect(load_config(), run_id="cli-ask", recorder=recorder, system_prompt="")
    if conn.client is None:
        raise ModelError(conn.probe.message)
    answer = conn.client.ask("ask", prompt, max_tokens=max_tokens)
    if as_json:
        emit_json(answer.call.to_dict())
        return
    click.echo(answer.call.reply)
    call = answer.call
    click.echo(f"[{call.model}: {call.tokens_in} tokens in, {call.tokens_out} out, {call.seconds:.2f} s"
               f"{', cached' if call.cached else ''}]", err=True)


@command.command("serve-test")
@click.option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--threads", type=int, default=1, show_default=True, help="Generation threads.")
@click.option("--model-dir", type=click.Path(file_okay=False), default=None,
              help="Where the model file is assembled (default: <cache_dir>/tiny-model).")
@click.option("--log", "log_file", type=click.Path(dir_okay=False), default=None, help="Server log file.")
@click.option("--startup-timeout", type=float, default=180.0, show_default=True, help="Seconds to wait.")
def serve_test(port: int | None, threads: int, model_dir: str | None, log_file: str | None,
               startup_timeout: float) -> None:
    """Serve the packaged tiny model on loopback (OpenAI-compatible) until interrupted.

    Prints the settings that point portkern at it. The model only exercises the model path; it is far
    too small to write good kernels.
    """
    import signal
    import time
    from pathlib import Path

    from portkern.llm import testserver

    folder = Path(model_dir) if model_dir else Path(load_config()["cache_dir"]) / "tiny-model"
    server = testserver.TinyModelServer(testserver.model_path(folder), port=port, threads=threads,
                                        startup_timeout_s=startup_timeout,
                                        log=Path(log_file) if log_file else None)
    click.echo(f"starting the tiny model server on 127.0.0.1:{server.port} ...", err=True)
    server.start()
    click.echo(f"serving {testserver.MODEL_ALIAS} at {server.url}; to use it, set:")
    for line in server.config_lines():
        click.echo(f"  export {line}")
    click.echo("Ctrl-C stops the server.", err=True)
    # Both stop it, whatever this process inherited (a parent that ignores SIGINT passes that on).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        while server.proc is not None and server.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    code = server.proc.returncode if server.proc is not None else 0
    if code not in (0, -signal.SIGTERM):
        raise SystemExit(f"the tiny model server stopped on its own with code {code}")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
