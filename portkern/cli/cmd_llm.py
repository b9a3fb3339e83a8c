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
