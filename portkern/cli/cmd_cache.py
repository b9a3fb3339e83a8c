from __future__ import annotations

from pathlib import Path

import click

from portkern.cli.output import emit_json, json_option, table

cache_dir_option = click.option("--cache-dir", default="",
                                help="Cache folder (default: $PORTKERN_CACHE_DIR, else config cache_dir).")


def _root(cache_dir: str) -> Path:
    from portkern.cache import cache_root

    return Path(cache_dir) if cache_dir else cache_root()


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@click.group("cache")
def command() -> None:
    """The content-addressed caches (stage results, compiler outputs, emulator builds, model replies,
    parsed sources): what they hold, and removing what was not used lately."""


@command.command("info")
@cache_dir_option
@json_option
def info(cache_dir: str, as_json: bool) -> None:
    """Entries, bytes and the oldest/newest entry of each cache kind."""
    from portkern import cache

    root = _root(cache_dir)
    kinds = [k.to_dict() for k in cache.info(root)]
    if as_json:
        emit_json({"cache_dir": str(root), "kinds": kinds})
        return
    table(f"portkern cache ({root})", ["kind", "holds", "entries", "size", "oldest", "newest"],
          [[k["kind"], k["description"], k["entries"], _size(k["bytes"]), k["oldest"] or "", k["newest"] or ""]
           for k in kinds])


@command.command("prune")
@click.option("--older-than", "older_than", required=True,
              help="Remove entries not written or used for this long: 90s, 30m, 12h, 7d, 2w.")
@cache_dir_option
@json_option
def prune(older_than: str, cache_dir: str, as_json: bool) -> None:
    """Remove cache entries older than a duration (a hit counts as a use)."""
    from portkern import cache

    seconds = cache.parse_duration(older_than)
    root = _root(cache_dir)
    removed = [r.to_dict() for r in cache.prune(seconds, root)]
    if as_json:
        emit_json({"cache_dir": str(root), "older_than_s": seconds, "removed": removed})
        return
    entries = sum(r["entries_removed"] for r in removed)
    size = sum(r["bytes_removed"] for r in removed)
    per_kind = ", ".join(f"{r['kind']} {r['entries_removed']}" for r in removed if r["entries_removed"])
    click.echo(f"removed {entries} entr{'y' if entries == 1 else 'ies'} ({_size(size)}) older than {older_than} "
               f"from {root}" + (f": {per_kind}" if per_kind else ""))
