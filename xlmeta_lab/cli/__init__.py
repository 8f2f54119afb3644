"""``xlmeta``, the command line: one module per family of subcommands, registered in :mod:`.main`."""

from __future__ import annotations

from xlmeta_lab.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
