"""Defects a hostile new user found in the newest features (reproduce.py, the report-code
switches, the dataloaders' stale caches), one reproduction each: every one ends in a clean
refusal naming the culprit or in the correct result, never a silently stale one."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rolo import cache, extractor, reportcode, reproduce
from rolo.config import Config
from rolo.errors import ConfigError
from rolo.otb import OTB
from test_faults import assert_clean_error, call, dataloader_args, make_otb


def _no_model(*args, **kwargs):
    raise AssertionError("a YOLO model was loaded; the fault should have stopped the run before")


def _grow(root: Path, name: str, extra: int) -> None:
    """``extra`` more frames and ground-truth lines at the end of a plain sequence."""
    img = root / name / "img"
    n = len(list(img.iterdir()))
    for i in range(n + 1, n + extra + 1):
        os.link(img / "0001.jpg", img / f"{i:04d}.jpg")
    gt = root / name / "groundtruth_rect.txt"
    gt.write_text(gt.read_text() + "5,5,20,16\n" * extra)


def test_a_cached_video_of_another_length_is_refused_not_skipped(monkeypatch, capsys, tmp_path):
    """A dataset copy that changed length (a shortened sample replaced by the full video) was skipped
    as 'already cached', so training and evaluation silently read the old frames."""
    otb = tmp_path / "otb"
    lst = make_otb(otb, frames=8)
    out = tmp_path / "X"
    args = dataloader_args(otb, lst, out)
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *args)
    assert code == 0, err
    _grow(otb, "Alpha", 4)
    with monkeypatch.context() as m:
        m.setattr(extractor, "YOLOv8FeatureExtractor", _no_model)
        code, _, err = call(monkeypatch, capsys, "dataloader.py", *args)
    assert_clean_error(code, err, r"train/Alpha holds 8 frames, but Alpha now gives its train split 12")
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *args, "--overwrite", "true")
    assert code == 0, err
    assert len(cache.read_video(out / "train" / "Alpha").gt) == 12


def test_quick_tree_follows_the_current_root_and_frame_count(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_otb(a, names=("Alpha",), frames=12, seed=1)
    make_otb(b, names=("Alpha",), frames=12, seed=2)
    out = tmp_path / "quick"
    reproduce.quick_tree(a, ["Alpha"], 10, out, strict=False)
    digest_10 = reproduce.data_digest(out, ["Alpha"], strict=False)
    reproduce.quick_tree(a, ["Alpha"], 6, out, strict=False)  # fewer frames: no link of the longer cut is left
    seq = OTB(out, strict=False)["Alpha"]
    assert len(seq.frames) == 6 and len(list((out / "Alpha" / "img").iterdir())) == 6
    digest_6 = reproduce.data_digest(out, ["Alpha"], strict=False)
    reproduce.quick_tree(b, ["Alpha"], 6, out, strict=False)  # another root: its images, not the old ones
    folders = {Path(f).resolve().parent for f in OTB(out, strict=False)["Alpha"].frames}
    assert folders == {(b / "Alpha" / "img").resolve()}
    digest_b = reproduce.data_digest(out, ["Alpha"], strict=False)
    assert len({digest_10, digest_6, digest_b}) == 3  # each changes the stage markers, so the stages rerun


def test_a_stage_started_with_other_settings_is_told_apart(tmp_path):
    stages = reproduce.Stages(tmp_path / "stages")
    assert not stages.started("train 1", {"lr": 1e-4})  # first start
    assert not stages.started("train 1", {"lr": 1e-4})  # a killed run started again: resume it
    assert stages.started("train 1", {"lr": 1e-3})  # another run's leftovers: do not resume them
    old = reproduce.Stages(tmp_path / "older")
    old.finish("train 2", {"lr": 1e-4})  # a run from before the start markers
    assert old.started("train 2", {"lr": 1e-3}) and not old.started("train 2", {"lr": 1e-3})


def _reproduce_args(tmp_path, lst, *extra):
    return ["--otb_root", str(tmp_path / "otb"), "--list_file", str(lst), "--weights", "yolov8n.yaml",
            "--img_size", "64", "--n_train", "1", "--n_test", "1", "--quick", "--strict_frames", "false", *extra]


def test_reproduce_refuses_a_file_as_out_dir_and_bad_epochs_in_a_quick_run(monkeypatch, capsys, tmp_path):
    lst = make_otb(tmp_path / "otb", frames=8)
    (tmp_path / "afile").write_text("x")
    monkeypatch.setattr(extractor, "YOLOv8FeatureExtractor", _no_model)
    code, _, err = call(monkeypatch, capsys, "reproduce.py", *_reproduce_args(tmp_path, lst, "--out_dir",
                                                                               tmp_path / "afile"))
    assert_clean_error(code, err, r"--out_dir .*afile/quick cannot be made: .*afile is a file, not a folder")
    code, _, err = call(monkeypatch, capsys, "reproduce.py", *_reproduce_args(tmp_path, tmp_path))
    assert_clean_error(code, err, rf"sequence list {tmp_path} is a folder, not a list file")
    code, _, err = call(monkeypatch, capsys, "reproduce.py", *_reproduce_args(tmp_path, lst, "--epochs", "0"))
    assert_clean_error(code, err, r"--epochs: expected positive integers, got '0'")
    code, _, err = call(monkeypatch, capsys, "reproduce.py", *_reproduce_args(tmp_path, lst, "--quick_epochs", "x"))
    assert_clean_error(code, err, r"--quick_epochs: expected comma-separated integers")


@pytest.mark.parametrize("flag, value, twice", [("--experiments", "1,3,1", "1"), ("--epochs", "10,30,10,30", "10, 30"),
                                               ("--quick_epochs", "2,2", "2")])
def test_reproduce_refuses_a_number_given_twice(monkeypatch, capsys, tmp_path, flag, value, twice):
    """--experiments 1,1 ran experiment 1 once, silently: more likely a typo for 1,2."""
    lst = make_otb(tmp_path / "otb", frames=8)
    monkeypatch.setattr(extractor, "YOLOv8FeatureExtractor", _no_model)
    code, _, err = call(monkeypatch, capsys, "reproduce.py", *_reproduce_args(tmp_path, lst, flag, value))
    assert_clean_error(code, err, f"{flag}: {twice} given more than once in '{value}'; give each once")


def test_plan_only_writes_nothing_and_says_its_estimate_is_of_this_machine_now(monkeypatch, capsys, tmp_path):
    """--plan_only left an empty OUT_DIR behind (and, with --quick, the shortened tree of links)."""
    import tempfile

    lst = make_otb(tmp_path / "otb", frames=8)
    (tmp_path / "scratch").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    code, out, err = call(monkeypatch, capsys, "reproduce.py", *_reproduce_args(
        tmp_path, lst, "--out_dir", tmp_path / "out", "--device", "cpu", "--hidden", "16", "--plan_only"))
    assert code == 0, err
    assert not (tmp_path / "out").exists() and not list((tmp_path / "scratch").glob("rolo-plan-*"))
    assert "estimated time on cpu: " in out
    assert ("measured on this machine just now (the first batch of frames; the median of 5 timings of 10 training "
            "steps): other work running on it now or later moves it") in out


@pytest.mark.parametrize("flags", [{"ZERO_UNDETECTED": False}, {"DROP_LAST_WINDOW": False, "REPORT_HEATMAP": False}])
def test_report_code_beside_a_switch_given_off_is_refused(flags):
    cfg = Config(REPORT_CODE=True, ZERO_UNDETECTED=False, DROP_LAST_WINDOW=False, REPORT_HEATMAP=False)
    cfg.given = frozenset({"REPORT_CODE", *flags})
    with pytest.raises(ConfigError, match="--report_code true turns on every switch") as e:
        reportcode.check_given(cfg)
    assert all(f"--{k.lower()} false" in str(e.value) for k in flags)
    cfg.given = frozenset(flags)  # the constant edited at the top of the script, the switch typed: no conflict typed
    reportcode.check_given(cfg)
    agree = Config(cfg, ZERO_UNDETECTED=True)
    agree.given = frozenset({"REPORT_CODE", "ZERO_UNDETECTED"})
    reportcode.check_given(agree)


def test_train_refuses_report_code_with_a_switch_off(monkeypatch, capsys, tmp_path):
    from rolo.synthetic_cache import write_synthetic_cache

    write_synthetic_cache(tmp_path / "data", experiment=1, n_videos=3, frames=12, n_train=1, n_test=1)
    code, _, err = call(monkeypatch, capsys, "train.py", "--data_dir", tmp_path / "data", "--epochs", "1",
                        "--checkpoint_dir", tmp_path / "ck", "--report_code", "true", "--zero_undetected", "false")
    assert_clean_error(code, err, r"--report_code true .* --zero_undetected false turns one off")
    assert not (tmp_path / "ck").exists() or not any((tmp_path / "ck").iterdir())


@pytest.mark.parametrize("flags, message", [
    (["--test_dataset", "lasot"], r"--test_split '': dataset 'lasot' needs a split: choose one of 'train', 'test'"),
    (["--dataset", "lasot", "--train_split", "all"], r"--train_split 'all': dataset 'lasot' needs a split"),
    (["--dataset", "uav123", "--train_split", "train"],
     r"--train_split 'train': dataset 'uav123' has no splits; --train_split all trains on all of it"),
    (["--test_dataset", "nfs", "--test_split", "test"], r"--test_split 'test': dataset 'nfs' has no splits, so no "
                                                        r"split 'test'; leave the split empty"),
])
def test_a_dataset_split_error_names_the_flag_that_gave_it(monkeypatch, capsys, tmp_path, flags, message):
    """It said "dataset 'lasot' has no split None", naming neither the flag nor what to type."""
    monkeypatch.setattr(extractor, "YOLOv8FeatureExtractor", _no_model)
    code, _, err = call(monkeypatch, capsys, "dataloader.py", "--out_dir", tmp_path / "X", "--dataset_root",
                        tmp_path, "--test_root", tmp_path, *flags)
    assert_clean_error(code, err, message)


def test_check_dataset_says_which_split_to_give(monkeypatch, capsys, tmp_path):
    code, _, err = call(monkeypatch, capsys, "check_dataset.py", "--dataset", "lasot", "--root", tmp_path)
    assert_clean_error(code, err, r"dataset 'lasot' needs a split: choose one of 'train', 'test'$")
    code, _, err = call(monkeypatch, capsys, "check_dataset.py", "--dataset", "got10k", "--root", tmp_path,
                        "--split", "tst")
    assert_clean_error(code, err, r"dataset 'got10k' has no split 'tst'; choose one of 'train', 'val', 'test'$")


def test_a_results_dir_that_is_a_file_or_has_no_name_is_refused_before_any_work(tmp_path, monkeypatch):
    """A file given as --results_dir was silently replaced by the results folder."""
    from rolo.errors import DataError
    from rolo.evaluation import stage_results_dir

    precious = tmp_path / "notes.txt"
    precious.write_text("mine")
    with pytest.raises(DataError, match=r"notes.txt is a file, not a folder"):
        stage_results_dir(precious)
    assert precious.read_text() == "mine"
    monkeypatch.chdir(tmp_path)
    for name in (".", ".."):
        with pytest.raises(DataError, match=r"name the results folder itself"):
            stage_results_dir(Path(name))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no staging folder left behind


def _plan(tmp_path, lst, *flags):
    import runpy

    from rolo import config

    consts = runpy.run_path(str(Path(__file__).resolve().parents[1] / "reproduce.py"), run_name="not_main")
    cfg = config.from_script(consts, ["--otb_root", str(tmp_path / "otb"), "--list_file", str(lst), "--out_dir",
                                      str(tmp_path / "out"), "--n_train", "1", "--n_test", "1",
                                      "--strict_frames", "false", *flags], checks=reproduce.CHECKS)
    return reproduce.Plan(cfg, Path(__file__).resolve().parents[1])


def test_training_and_evaluation_stages_rerun_when_their_cache_is_cut_otherwise(tmp_path):
    """The training marker held only the training flags: another --n_train, --label_every or --conf cut
    the caches again, but training and evaluation were skipped as finished, on the old split."""
    lst = make_otb(tmp_path / "otb", frames=8)
    base = reproduce.cache_marker(_plan(tmp_path, lst), 2)
    for flags in (["--n_train", "2"], ["--label_every", "2"], ["--conf", "0.5"], ["--img_size", "320"]):
        assert reproduce.cache_marker(_plan(tmp_path, lst, *flags), 2) != base, flags
    for flags in (["--device", "cpu"], ["--batch_size", "4"], ["--lr", "0.1"]):  # same cache
        assert reproduce.cache_marker(_plan(tmp_path, lst, *flags), 2) == base, flags
    calls = []

    def fake_training(tcfg, on_epoch=None):
        calls.append(tcfg.DATA_DIR)
        for n in (10, 30, 100):
            path = reproduce.training.checkpoint_path(tcfg.CHECKPOINT_DIR, tcfg.EXPERIMENT, n, tcfg.HEAD)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")

    import rolo.training
    stages = reproduce.Stages(tmp_path / "stages")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(rolo.training, "run", fake_training)
        reproduce.run_training(_plan(tmp_path, lst), stages, 2)
        reproduce.run_training(_plan(tmp_path, lst), stages, 2)
        assert len(calls) == 1 and stages.skipped == ["train 2"]
        reproduce.run_training(_plan(tmp_path, lst, "--n_train", "2"), stages, 2)
    assert len(calls) == 2


def test_a_finished_stage_whose_checkpoint_was_deleted_runs_and_is_not_called_skipped(tmp_path, monkeypatch):
    """It printed "[skip] train 2: finished earlier" and then trained, counting the stage as skipped."""
    import rolo.training

    lst = make_otb(tmp_path / "otb", frames=8)
    plan = _plan(tmp_path, lst)
    made = []

    def fake_training(tcfg, on_epoch=None):
        made.append(1)
        for n in (10, 30, 100):
            path = plan.checkpoint(2, n)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")

    monkeypatch.setattr(rolo.training, "run", fake_training)
    stages = reproduce.Stages(tmp_path / "stages")
    reproduce.run_training(plan, stages, 2)
    plan.checkpoint(2, 30).unlink()
    reproduce.run_training(plan, stages, 2)
    assert len(made) == 2 and stages.skipped == [] and stages.ran == ["train 2", "train 2"]


@pytest.mark.parametrize("content", [b"Crossing\nCar4\n", bytes(range(256)) * 8])
def test_a_checkpoint_that_does_not_unpickle_is_one_error_line_without_torchs_unsafe_advice(tmp_path, content):
    """It printed torch's several-line message, which advises re-running torch.load with weights_only=False."""
    from rolo.errors import DataError
    from rolo.model import load_checkpoint

    path = tmp_path / "not_a_checkpoint.pth"
    path.write_bytes(content)
    with pytest.raises(DataError) as e:
        load_checkpoint(path)
    assert "\n" not in str(e.value) and "weights_only" not in str(e.value)
    assert str(e.value).startswith(f"checkpoint {path} is corrupt or not a PyTorch file")


def test_a_damaged_weights_file_is_one_error_line(monkeypatch, capsys, tmp_path):
    (tmp_path / "w.pt").write_bytes(b"Crossing\nCar4\n")
    from rolo.extractor import load_yolo
    from rolo.errors import RoloError

    with pytest.raises(RoloError, match=r"cannot load YOLO weights .*w\.pt: ") as e:
        load_yolo(str(tmp_path / "w.pt"))
    assert "\n" not in str(e.value)


def test_reproduce_under_torchrun_is_refused_before_any_work(monkeypatch, capsys, tmp_path):
    """Under torchrun every rank ran every stage: they raced on the stage markers and ended in a traceback."""
    monkeypatch.setattr(extractor, "YOLOv8FeatureExtractor", _no_model)
    for name, value in (("RANK", "1"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "1"), ("LOCAL_WORLD_SIZE", "2")):
        monkeypatch.setenv(name, value)
    code, _, err = call(monkeypatch, capsys, "reproduce.py", "--out_dir", tmp_path / "out", "--quick")
    assert_clean_error(code, err, r"reproduce.py runs as one process .* not under torchrun")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("script", ["train.py", "train_exp3.py", "evaluation.py"])
def test_an_unknown_dataset_name_is_refused_before_any_work(script, monkeypatch, capsys, tmp_path):
    """--dataset LaSOT (a typo of a registered name) was refused only once it failed to match a cache."""
    code, _, err = call(monkeypatch, capsys, script, "--dataset", "LaSOT", "--data_dir", tmp_path / "none")
    assert_clean_error(code, err, r"--dataset: 'LaSOT' is not allowed; choose one of 'otb', 'lasot'")


def _sequence_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("how", ["absolute", "dotdot"])
def test_a_path_in_the_list_file_is_refused_and_deletes_nothing(how, monkeypatch, capsys, tmp_path):
    """A list line ``/data/otb2/Alpha`` made the cache folder ``<out_dir>/train/<it>`` the sequence folder itself,
    which the dataloader replaced (its images and ground truth deleted, without --overwrite); a line
    ``../../otb2/Alpha`` wrote outside --out_dir, and with --overwrite replaced what was there."""
    other = tmp_path / "otb2"
    make_otb(other, names=("Alpha",))
    before = _sequence_files(other)
    otb = tmp_path / "otb"
    lst = make_otb(otb)
    out = tmp_path / "out" / "c"
    line = str(other / "Alpha") if how == "absolute" else "../../otb2/Alpha"
    lst.write_text(f"# the second video is a path\nBravo\n{line}\nCharlie\n")
    expected = rf"{lst}, line 3: '{re.escape(line)}' is a path, not a single folder name"
    code, _, err = call(monkeypatch, capsys, "check_otb.py", "--otb_root", otb, "--list_file", lst)
    assert_clean_error(code, err, expected)
    monkeypatch.setattr(extractor, "YOLOv8FeatureExtractor", _no_model)
    for extra in ([], ["--overwrite", "true"]):
        for script in ("dataloader.py", "dataloader_exp2.py"):
            code, _, err = call(monkeypatch, capsys, script, *dataloader_args(otb, lst, out, "yolov8n.yaml", *extra))
            assert_clean_error(code, err, expected)
    assert _sequence_files(other) == before and not (tmp_path / "out").exists()


def test_a_file_as_the_dataloaders_out_dir_is_called_a_file(monkeypatch, capsys, tmp_path):
    lst = make_otb(tmp_path / "otb", frames=8)
    (tmp_path / "afile").write_text("x")
    code, _, err = call(monkeypatch, capsys, "dataloader.py", *dataloader_args(tmp_path / "otb", lst,
                                                                                tmp_path / "afile"))
    assert_clean_error(code, err, r"--out_dir .*afile is a file, not a folder; give a folder")
    assert (tmp_path / "afile").read_text() == "x"
