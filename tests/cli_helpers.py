from __future__ import annotations

import sys

import pytest

from tierwise import cli


def run_cli(args: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    """Run the real entry point in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["tierwise", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
        raise SystemExit(0)
    captured = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), captured.out, captured.err
