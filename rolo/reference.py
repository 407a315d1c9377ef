"""Reference AOS numbers, transcribed from the report (ROLO_PyTorch_report_es.md, section V).

These are data, never recomputed. Rows keep the report's table order. The
report writes "SUV"; we key every table by the OTB folder name of
``otb30_list.txt`` ("Suv").

* Table 1: experiment 1 (22 training videos, 8 test videos), AOS after 10/30/100 epochs.
* Table 2: experiment 2 (1/3 of the frames of the 30 videos), same epochs.
* Table 3: experiment 3 (all frames, 1/3 of the ground truths), same epochs.
* Table 4: the original ROLO paper's AOS ("ROLO") next to the report's
  experiment-3, 100-epoch column ("ROLO (nuestro)", identical to Table 3's).

The report's conclusions quote the means "AOS prom 0.6781 vs 0.565" (report
exp 3 at 100 epochs vs original ROLO), which these numbers reproduce.
"""
from __future__ import annotations

#: The epoch counts the report's Tables 1-3 have columns for.
REPORT_EPOCHS = (10, 30, 100)

# name -> (10 epochs, 30 epochs, 100 epochs), in the report's row order.
_TABLE1 = (
    ("CarScale", (0.009, 0.020, 0.018)),
    ("Dancer", (0.354, 0.352, 0.254)),
    ("Dancer2", (0.253, 0.391, 0.199)),
    ("Gym", (0.228, 0.244, 0.291)),
    ("Human8", (0.049, 0.077, 0.075)),
    ("Jump", (0.104, 0.126, 0.067)),
    ("Skater", (0.229, 0.154, 0.195)),
    ("Skater2", (0.193, 0.127, 0.220)),
)

_TABLE2 = (
    ("Human2", (0.469, 0.502, 0.699)),
    ("Human9", (0.292, 0.412, 0.493)),
    ("Gym", (0.503, 0.539, 0.629)),
    ("Human8", (0.176, 0.260, 0.579)),
    ("Skater", (0.575, 0.618, 0.721)),
    ("Suv", (0.504, 0.597, 0.730)),
    ("BlurBody", (0.487, 0.532, 0.631)),
    ("CarScale", (0.495, 0.646, 0.719)),
    ("Dancer2", (0.581, 0.641, 0.785)),
    ("BlurCar1", (0.401, 0.503, 0.512)),
    ("Dog", (0.268, 0.365, 0.409)),
    ("Jump", (0.196, 0.234, 0.306)),
    ("Singer2", (0.498, 0.599, 0.657)),
    ("Woman", (0.338, 0.393, 0.559)),
    ("David3", (0.136, 0.246, 0.439)),
    ("Dancer", (0.538, 0.609, 0.712)),
    ("Human7", (0.327, 0.422, 0.526)),
    ("Bird1", (0.110, 0.180, 0.293)),
    ("Car4", (0.594, 0.733, 0.781)),
    ("CarDark", (0.380, 0.465, 0.589)),
    ("Couple", (0.199, 0.267, 0.348)),
    ("Diving", (0.435, 0.482, 0.557)),
    ("Human3", (0.261, 0.360, 0.529)),
    ("Skating1", (0.393, 0.467, 0.624)),
    ("Human6", (0.277, 0.379, 0.485)),
    ("Singer1", (0.541, 0.625, 0.762)),
    ("Skater2", (0.560, 0.589, 0.712)),
    ("Walking2", (0.474, 0.479, 0.666)),
    ("BlurCar3", (0.385, 0.507, 0.464)),
    ("Girl2", (0.346, 0.508, 0.669)),
)

_TABLE3 = (
    ("Human2", (0.419, 0.698, 0.812)),
    ("Human9", (0.113, 0.519, 0.599)),
    ("Gym", (0.429, 0.632, 0.697)),
    ("Human8", (0.089, 0.529, 0.652)),
    ("Skater", (0.666, 0.716, 0.776)),
    ("Suv", (0.622, 0.707, 0.773)),
    ("BlurBody", (0.526, 0.608, 0.714)),
    ("CarScale", (0.374, 0.757, 0.828)),
    ("Dancer2", (0.520, 0.791, 0.835)),
    ("BlurCar1", (0.492, 0.609, 0.649)),
    ("Dog", (0.282, 0.559, 0.539)),
    ("Jump", (0.175, 0.298, 0.327)),
    ("Singer2", (0.403, 0.667, 0.756)),
    ("Woman", (0.212, 0.576, 0.662)),
    ("David3", (0.075, 0.432, 0.492)),
    ("Dancer", (0.616, 0.673, 0.768)),
    ("Human7", (0.134, 0.567, 0.625)),
    ("Bird1", (0.152, 0.322, 0.460)),
    ("Car4", (0.693, 0.811, 0.856)),
    ("CarDark", (0.428, 0.593, 0.701)),
    ("Couple", (0.255, 0.393, 0.426)),
    ("Diving", (0.414, 0.529, 0.587)),
    ("Human3", (0.161, 0.525, 0.653)),
    ("Skating1", (0.303, 0.600, 0.745)),
    ("Human6", (0.244, 0.562, 0.648)),
    ("Singer1", (0.335, 0.715, 0.819)),
    ("Skater2", (0.595, 0.727, 0.780)),
    ("Walking2", (0.381, 0.698, 0.737)),
    ("BlurCar3", (0.500, 0.598, 0.643)),
    ("Girl2", (0.357, 0.618, 0.784)),
)

# name -> (original ROLO paper, report's "ROLO (nuestro)"), Table 4's row order.
_TABLE4 = (
    ("Human2", (0.545, 0.812)),
    ("Human9", (0.352, 0.599)),
    ("Gym", (0.599, 0.697)),
    ("Human8", (0.364, 0.652)),
    ("Skater", (0.618, 0.776)),
    ("Suv", (0.627, 0.773)),
    ("BlurBody", (0.519, 0.714)),
    ("CarScale", (0.565, 0.828)),
    ("Dancer2", (0.627, 0.835)),
    ("BlurCar1", (0.537, 0.649)),
    ("Dog", (0.429, 0.539)),
    ("Jump", (0.547, 0.327)),
    ("Singer2", (0.588, 0.756)),
    ("Woman", (0.649, 0.662)),
    ("David3", (0.622, 0.492)),
    ("Dancer", (0.755, 0.768)),
    ("Human7", (0.456, 0.625)),
    ("Bird1", (0.362, 0.460)),
    ("Car4", (0.768, 0.856)),
    ("CarDark", (0.674, 0.701)),
    ("Couple", (0.464, 0.426)),
    ("Diving", (0.659, 0.587)),
    ("Human3", (0.568, 0.653)),
    ("Skating1", (0.572, 0.745)),
    ("Human6", (0.532, 0.648)),
    ("Singer1", (0.653, 0.819)),
    ("Skater2", (0.652, 0.780)),
    ("Walking2", (0.595, 0.737)),
    ("BlurCar3", (0.539, 0.643)),
    ("Girl2", (0.517, 0.784)),
)

_TABLES = {1: _TABLE1, 2: _TABLE2, 3: _TABLE3}


def report_sequences(experiment: int) -> list[str] | None:
    """The test videos of the report's table for ``experiment`` (1, 2 or 3), in row order; None otherwise."""
    table = _TABLES.get(experiment)
    return None if table is None else [name for name, _ in table]


def report_aos(experiment: int, epochs: int) -> dict[str, float] | None:
    """The report's per-video AOS for ``experiment`` trained ``epochs`` epochs.

    A dict in the report's row order, or None when the report has no such
    column (experiments 1-3, epochs 10, 30 or 100 exist).
    """
    table = _TABLES.get(experiment)
    if table is None or epochs not in REPORT_EPOCHS:
        return None
    col = REPORT_EPOCHS.index(epochs)
    return {name: values[col] for name, values in table}


def original_rolo_aos() -> dict[str, float]:
    """The original ROLO paper's per-video AOS as quoted in the report's Table 4 ("ROLO")."""
    return {name: values[0] for name, values in _TABLE4}


def report_rolo_aos() -> dict[str, float]:
    """"ROLO (report)": the report's best model, experiment 3 at 100 epochs (Table 3 = Table 4's "ROLO (nuestro)")."""
    return report_aos(3, 100)


def table4_report_column() -> dict[str, float]:
    """Table 4's "ROLO (nuestro)" column as printed, kept to check it against Table 3."""
    return {name: values[1] for name, values in _TABLE4}
