"""tierwise against BG/NBD + Gamma-Gamma and RFM on the real CDNOW log (run by hand).

    python benchmarks/cdnow.py [--json cdnow.json] [--chart cdnow_deciles.png] [--split development]

The same run as ``tierwise benchmark cdnow``: calibration 1997-01-01 to
1997-09-30, holdouts of 39 and 13 weeks, all 23,570 customers; ``--split
development`` runs the half-scale copy inside the calibration period.
"""

from __future__ import annotations

import sys

from tierwise.cli import main

if __name__ == "__main__":
    sys.argv = ["tierwise", "benchmark", "cdnow", *sys.argv[1:]]
    main()
