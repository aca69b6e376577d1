"""Evaluation on real data against the Buy-Till-You-Die standard."""

from tierwise.evaluation._cdnow import CdnowBenchmark, plot_decile_chart, run_cdnow_benchmark
from tierwise.models import BetaGeoFit
from tierwise.training._btyd import GammaGammaFit, fit_bgnbd, fit_gamma_gamma, rfm_summary

__all__ = [
    "BetaGeoFit",
    "CdnowBenchmark",
    "GammaGammaFit",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "plot_decile_chart",
    "rfm_summary",
    "run_cdnow_benchmark",
]
