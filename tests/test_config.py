import pytest

from rolo import config
from rolo.errors import ConfigError

SCRIPT = {"__doc__": "usage", "OTB_ROOT": "OTB100", "EPOCHS": 100, "LR": 1e-4, "RESUME": False,
          "CHECKPOINT": None, "lower": 1, "_HIDDEN": 2}


def test_defaults_and_typed_overrides():
    cfg = config.from_script(SCRIPT, ["--epochs", "30", "--lr=3e-3", "--resume", "yes", "--otb_root", "/x"])
    assert cfg == {"OTB_ROOT": "/x", "EPOCHS": 30, "LR": 3e-3, "RESUME": True, "CHECKPOINT": None}
    assert isinstance(cfg.LR, float) and cfg.EPOCHS == 30


def test_int_constant_accepts_no_float_and_names_flag():
    with pytest.raises(ConfigError, match="--epochs: expected an integer, got '1.5'"):
        config.from_script(SCRIPT, ["--epochs", "1.5"])


@pytest.mark.parametrize("argv, msg", [
    (["--epoch", "3"], "unknown flag --epoch"),
    (["--resume", "maybe"], "--resume: expected true or false"),
    (["--lr", "fast"], "--lr: expected a number"),
    (["--epochs"], "--epochs: missing value"),
    (["epochs", "3"], "unexpected argument 'epochs'"),
])
def test_bad_command_lines(argv, msg):
    with pytest.raises(ConfigError, match=msg):
        config.from_script(SCRIPT, argv)


def test_checks_name_flag_and_allowed_values():
    checks = {"EPOCHS": config.at_least(1), "OTB_ROOT": config.choices("OTB100", "OTB50")}
    with pytest.raises(ConfigError, match=r"--epochs: must be >= 1, got -2"):
        config.from_script(SCRIPT, ["--epochs", "-2"], checks)
    with pytest.raises(ConfigError, match=r"--otb_root: 'x' is not allowed; choose one of 'OTB100', 'OTB50'"):
        config.from_script(SCRIPT, ["--otb_root", "x"], checks)


def test_help_lists_constants(capsys):
    with pytest.raises(SystemExit) as e:
        config.from_script(SCRIPT, ["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--epochs 100" in out and "--lower" not in out
