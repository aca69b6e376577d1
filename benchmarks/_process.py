"""Run a benchmark's measured step in a fresh process, so its peak memory is that step's own."""

from __future__ import annotations

import json
import resource
import subprocess
import sys


def peak_rss_gib() -> float:
    """This process's peak resident memory, in GiB.

    Read from Linux's VmHWM, the high-water mark of the process's own memory.
    ``getrusage``'s ``ru_maxrss`` is not used where VmHWM exists: it keeps the
    peak of the parent the process was forked from (the benchmark's parent,
    which drew the inputs), and so reported 13.7 GiB for a training step whose
    own peak was 5.7 GiB.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 2**20, 2)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def measure_in_fresh_process(script: str, *args: str) -> dict:
    """Run ``script --measure ...`` and return the JSON figures it prints last."""
    result = subprocess.run([sys.executable, script, "--measure", *args], check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def print_figures(figures: dict) -> None:
    width = max(map(len, figures)) + 2
    for key, value in figures.items():
        print(f"{key:>{width}}: {value:,}" if isinstance(value, int) else f"{key:>{width}}: {value}")
