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
