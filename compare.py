"""Compare evaluation results folders side by side, per video.

Usage:
    python compare.py RESULTS_DIR [RESULTS_DIR ...] [--metric aos|auc|sr50|p20]
                      [--reference none|report|rolo|all] [--out compare_out]

Each RESULTS_DIR holds the metrics.json written by the evaluation. Prints one
per-video table (a column per run, best value per row marked with '*', mean
row last) and each run's video-mean and frame-weighted score, and writes
compare.md, compare.csv and the runs' success/precision plots into --out.

--reference adds the published AOS: "report" = the report's table for each
run's experiment and epochs, "rolo" = the original ROLO paper (report's
Table 4), "all" = both (AOS only, so --metric aos).

Example:
    python compare.py results/exp3_100_test results/exp3_30_test --reference all
"""
import sys

from rolo.cli import run
from rolo.config import choices, from_script
from rolo.errors import ConfigError
from rolo.metrics import SCALAR_METRICS
from rolo.tables import REFERENCE_CHOICES, compare_runs, render_text

METRIC = "aos"  # aos | auc | sr50 | p20
REFERENCE = "none"  # none | report | rolo | all
OUT = "compare_out"  # folder for compare.md, compare.csv and the plots


def split_folders(argv: list[str]) -> tuple[list[str], list[str]]:
    """(positional folders, flag arguments): every flag takes one value, as ``--x v`` or ``--x=v``."""
    folders, flags, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help") or (arg.startswith("--") and "=" in arg):
            flags.append(arg)
            i += 1
        elif arg.startswith("--"):
            flags += argv[i:i + 2]
            i += 2
        else:
            folders.append(arg)
            i += 1
    return folders, flags


def main(script_globals, argv=None):
    folders, flags = split_folders(list(sys.argv[1:] if argv is None else argv))
    cfg = from_script(script_globals, flags, checks={"METRIC": choices(*SCALAR_METRICS),
                                                      "REFERENCE": choices(*REFERENCE_CHOICES)})
    if not folders:
        raise ConfigError("give at least one RESULTS_DIR (a folder with metrics.json); see --help")
    result = compare_runs(folders, metric=cfg.METRIC, reference_columns=cfg.REFERENCE, out=cfg.OUT)
    print(render_text(result.per_video))
    print(render_text(result.summary))
    for note in result.notes:
        print(f"note: {note}")
    print("wrote " + ", ".join(str(p) for p in result.files))
    return result


if __name__ == "__main__":
    run(main, globals())
