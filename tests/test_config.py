import re

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


def test_comments_are_read_as_python_reads_them(tmp_path):
    script = tmp_path / "s.py"
    script.write_text('"""doc"""\n'
                      'A = "x # not a comment"   # the real comment\n'
                      'B = 3\n'
                      'C = (1 +\n'
                      '     2)  # after a value over two lines: not read\n'
                      'def f():\n'
                      '    D = 1  # inside a function: not a constant\n'
                      'E=0.5#tight\n')
    assert config.constant_comments(script) == {"A": "the real comment", "E": "tight"}
    assert config.constant_comments(tmp_path / "missing.py") == {}


def test_help_shows_each_constants_comment(capsys, repo_root):
    import runpy

    scripts = ["YOLOv8FeatureExtractor.py", "dataloader.py", "dataloader_exp2.py", "dataloader_exp3.py", "train.py",
               "train_exp3.py", "evaluation.py", "compare.py", "check_otb.py", "check_dataset.py", "heatmap_figure.py",
               "track.py", "finetune_yolo.py", "demo.py", "bench.py", "reproduce.py"]
    for name in scripts:
        g = runpy.run_path(str(repo_root / name), run_name="not_main")
        with pytest.raises(SystemExit):
            config.from_script(g, ["--help"])
        lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  --")]
        assert len(lines) == len(config.script_constants(g)) > 0, name
        missing = [ln.split()[0] for ln in lines if "  # " not in ln]
        assert not missing, f"{name}: constants without a one-line comment: {missing}"
        # --help shows a constant's own line only: a comment continued on the next line would be cut off
        src = (repo_root / name).read_text(encoding="utf-8").splitlines()
        cut = [a.split()[0] for a, b in zip(src, src[1:])
               if re.match(r"[A-Z][A-Z0-9_]* = .*#", a) and b[:1].isspace() and b.lstrip().startswith("#")]
        assert not cut, f"{name}: comments continued on the next line, which --help cuts off: {cut}"


def test_split_sizes_help_says_what_they_mean_in_every_experiment(repo_root):
    """The help said "experiment 1:" only, but in experiments 2 and 3 the first N_TRAIN + N_TEST videos train
    and test (rolo.splits.video_names), so N_TEST decides the eval split there too."""
    for name in ("dataloader.py", "dataloader_exp2.py", "dataloader_exp3.py", "reproduce.py"):
        comments = config.constant_comments(repo_root / name)
        assert "exps 2, 3: the first N_TRAIN+N_TEST" in comments["N_TRAIN"], name
        assert comments["N_TEST"].endswith("exps 2, 3: all N_TRAIN+N_TEST test too; the rest: eval"), name


@pytest.mark.parametrize("argv, resume, epochs", [
    (["--resume"], True, 100),                          # alone, at the end
    (["--resume", "--epochs", "3"], True, 3),            # alone, before another flag
    (["--resume", "false", "--epochs", "3"], False, 3),  # an explicit value still works
    (["--resume=no"], False, 100),
])
def test_a_switch_given_alone_means_true(argv, resume, epochs):
    cfg = config.from_script(SCRIPT, argv)
    assert (cfg.RESUME, cfg.EPOCHS) == (resume, epochs)


def test_config_records_which_flags_were_given():
    cfg = config.from_script(SCRIPT, ["--resume", "--lr=1e-4"])
    assert cfg.given == {"RESUME", "LR"}  # LR given with its default value is still given
    assert config.from_script(SCRIPT, []).given == set()
