"""rolo.splits as a table: every experiment x split, frame by frame (the report's section III)."""
import numpy as np
import pytest

from rolo import splits
from rolo.errors import ConfigError

N = 10                                        # frames 0..9; LABEL_EVERY 3 keeps 0, 3, 6, 9
EVERY_THIRD = np.isin(np.arange(N), [0, 3, 6, 9])
ALL, NONE = np.ones(N, bool), np.zeros(N, bool)


@pytest.mark.parametrize("experiment, split, keep, labelled, used", [
    (1, "train", np.arange(N), ALL, ALL),
    (1, "test", np.arange(N), ALL, NONE),
    (1, "eval", np.arange(N), ALL, NONE),
    (2, "train", np.array([0, 3, 6, 9]), np.ones(4, bool), np.ones(4, bool)),
    (2, "test", np.arange(N), ALL, EVERY_THIRD),
    (2, "eval", np.arange(N), ALL, NONE),
    (3, "train", np.arange(N), EVERY_THIRD, EVERY_THIRD),
    (3, "test", np.arange(N), ALL, EVERY_THIRD),
    (3, "eval", np.arange(N), ALL, NONE),
])
def test_plan_of_every_experiment_and_split(experiment, split, keep, labelled, used):
    plan = splits.plan_video(experiment, split, "Bird1", N, label_every=3)
    assert (plan.name, plan.split) == ("Bird1", split)
    for field, want in (("keep", keep), ("labelled", labelled), ("used_in_training", used)):
        got = getattr(plan, field)
        np.testing.assert_array_equal(got, want, err_msg=field)
        if field != "keep":
            assert got.dtype == bool, field


@pytest.mark.parametrize("experiment, want", [(1, np.ones(7, bool)), (2, np.isin(np.arange(7), [0, 2, 4, 6])),
                                              (3, np.isin(np.arange(7), [0, 2, 4, 6])), (4, np.zeros(7, bool))])
def test_training_label_frames(experiment, want):
    got = splits.training_label_frames(7, experiment, label_every=2)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, want)


def test_video_names_with_exactly_enough_names():
    names = ["A", "B", "C"]
    assert splits.video_names(1, names, 2, 1) == {"train": ["A", "B"], "test": ["C"], "eval": []}
    assert splits.video_names(2, names, 2, 1) == {"train": names, "test": names, "eval": []}
    with pytest.raises(ConfigError, match=r"^the list has 3 names but N_TRAIN \+ N_TEST = 4$"):
        splits.video_names(3, names, 3, 1)


def test_unknown_split_is_named():
    with pytest.raises(ConfigError, match=r"^split 'val' is not one of train, test, eval$"):
        splits.plan_video(2, "val", "Bird1", N)


def test_an_unknown_experiment_is_named_as_the_flag():
    with pytest.raises(ConfigError, match=r"^--experiment: 4 is not allowed"):
        splits.video_names(4, ["A", "B"], 1, 1)


@pytest.mark.parametrize("experiment, label_every, split_names", [
    (1, None, {"train": ["A"], "test": ["B"], "eval": ["C"]}),
    (2, 3, {"train": ["A", "B"], "test": ["A", "B"], "eval": ["C"]}),
    (3, 3, {"train": ["A", "B"], "test": ["A", "B"], "eval": ["C"]}),
])
def test_make_plan_is_the_manifest_of_the_split(experiment, label_every, split_names):
    plan = splits.make_plan(experiment, ("A", "B", "C"), 1, 1, 3)
    assert plan == {"experiment": experiment, "n_train": 1, "n_test": 1, "label_every": label_every,
                    "sides": None, "splits": split_names}
    assert tuple(plan) == splits.PLAN_KEYS


# --- the dataset plan: dataloader constants -> cache sides -> plan record -> differences ---

def _cfg(**constants):
    from rolo.config import Config
    return Config(dict(OTB_ROOT="OTB100", **constants))


@pytest.mark.parametrize("constants", [{}, dict(DATASET="otb", TRAIN_SPLIT="", TEST_DATASET="")])
def test_no_dataset_constants_is_the_report_list_plan(constants):
    assert splits.dataset_sides(_cfg(**constants)) is None


@pytest.mark.parametrize("constants, want", [
    # a default root falls back to OTB_ROOT; TRAIN_SPLIT "all" is the dataset's only split
    (dict(DATASET="nfs", TRAIN_SPLIT="all", DATASET_ROOT=""), [("train", "nfs", "OTB100", None)]),
    (dict(DATASET="lasot", TRAIN_SPLIT="train", DATASET_ROOT="/d/LaSOT"), [("train", "lasot", "/d/LaSOT", "train")]),
    # OTB with a split is a list-file side, not the report's plan
    (dict(TRAIN_SPLIT="mine.txt"), [("train", "otb", "OTB100", "mine.txt")]),
    (dict(TEST_DATASET="uav123"), [("test", "uav123", "OTB100", None)]),
    (dict(DATASET="otb", TEST_DATASET="got10k", TEST_ROOT="/d/GOT", TEST_SPLIT="val"),
     [("test", "got10k", "/d/GOT", "val")]),
    (dict(DATASET="got10k", DATASET_ROOT="/d/GOT", TRAIN_SPLIT="train", TEST_DATASET="otb", TEST_ROOT="",
          TEST_SPLIT=""),
     [("train", "got10k", "/d/GOT", "train"), ("test", "otb", "OTB100", None)]),
])
def test_dataset_sides(constants, want):
    got = splits.dataset_sides(_cfg(**constants))
    assert [(s.cache_split, s.dataset, s.root, s.split) for s in got] == want
    assert all(type(s) is splits.Side for s in got)


def test_a_dataset_without_a_split_names_both_flags():
    with pytest.raises(ConfigError) as err:
        splits.dataset_sides(_cfg(DATASET="lasot", TRAIN_SPLIT="", TEST_DATASET=""))
    assert str(err.value) == ("--dataset lasot: give --train_split (the split that trains) and/or --test_dataset "
                              "(the benchmark to test on); only OTB has the report's list plan")


def test_a_side_is_a_frozen_value():
    side = splits.Side("train", "nfs", "/d", None)
    assert side == splits.Side("train", "nfs", "/d", None) != splits.Side("test", "nfs", "/d", None)
    with pytest.raises(AttributeError):
        side.split = "x"


@pytest.mark.parametrize("experiment, label_every", [(1, None), (2, 3), (3, 3)])
def test_make_dataset_plan(experiment, label_every):
    sides = [splits.Side("train", "lasot", "/d/LaSOT", "train"), splits.Side("test", "otb", "OTB100", None)]
    plan = splits.make_dataset_plan(experiment, sides, {"train": ("a", "b"), "test": ["c"]}, 3)
    assert plan == {"experiment": experiment, "n_train": None, "n_test": None, "label_every": label_every,
                    "sides": [{"cache_split": "train", "dataset": "lasot", "split": "train"},
                              {"cache_split": "test", "dataset": "otb", "split": None}],
                    "splits": {"train": ["a", "b"], "test": ["c"], "eval": []}}
    assert tuple(plan) == splits.PLAN_KEYS and tuple(plan["splits"]) == splits.SPLITS
    assert all(type(v) is list for v in plan["splits"].values())


def test_the_same_plan_has_no_differences():
    plan = splits.make_plan(2, ["A", "B", "C"], 1, 1, 3)
    assert splits.plan_differences(plan, dict(plan)) == []


def test_plan_differences_name_each_constant_then_each_split():
    old = splits.make_plan(1, ["A", "B", "C", "D"], 2, 1, 3)
    new = splits.make_dataset_plan(2, [splits.Side("train", "nfs", "/d", None)], {"train": ["X", "Y"]}, 3)
    assert splits.plan_differences(old, new) == [
        "EXPERIMENT=1 there, 2 in this run",
        "N_TRAIN=2 there, None in this run",
        "N_TEST=1 there, None in this run",
        "LABEL_EVERY=None there, 3 in this run",
        "SIDES=None there, [{'cache_split': 'train', 'dataset': 'nfs', 'split': None}] in this run",
        "train split: A, B there, X, Y in this run",
        "test split: C there, no videos in this run",
        "eval split: D there, no videos in this run",
    ]


def test_plan_differences_with_an_old_plan_missing_keys():
    # a plan.json written before a key existed: the missing key reads as None, missing splits as empty
    new = splits.make_plan(1, ["A", "B"], 1, 1, 3)
    assert splits.plan_differences({"experiment": 1, "n_train": 1, "n_test": 1, "splits": None}, new) == [
        "train split: no videos there, A in this run",
        "test split: no videos there, B in this run",
    ]
    assert splits.plan_differences({"experiment": 1, "n_train": 1, "n_test": 1, "label_every": None, "sides": None,
                                    "splits": {"train": ["A"]}}, new) == [
        "test split: no videos there, B in this run"]
