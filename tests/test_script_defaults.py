"""Every constant of every design-card script, pinned; the report's values named where it gives one.

A changed default changes what a user who runs the scripts in order gets, and so the numbers
they compare with the report's: each change must be made here too, on purpose.
"""
import runpy

import pytest

from rolo import config

#: The report's values (section III): every third frame / label, 22/8/3 videos, 640 px, SEQ_LEN 6,
#: hidden 512, batch 1, Adam 1e-4, 10/30/100 epochs.
REPORT = {"LR": 1e-4, "BATCH_SIZE": 1, "SEQ_LEN": 6, "IMG_SIZE": 640, "HIDDEN": 512, "EPOCHS": (10, 30, 100),
          "SPLIT": (22, 8, 3), "LABEL_EVERY": 3, "WEIGHTS": "yolov8s.pt", "LIST_LENGTH": 33}

_EXTRACTION = {"DETECTOR": "yolov8", "WEIGHTS": REPORT["WEIGHTS"], "IMG_SIZE": REPORT["IMG_SIZE"], "CONF": 0.25,
               "TOP_K": 10,
               "DEVICE": "auto", "BATCH_SIZE": 16, "DECODE_WORKERS": 0, "GPU_DECODE": False,
               "FEATURE_DTYPE": "float32", "N_TRAIN": REPORT["SPLIT"][0], "N_TEST": REPORT["SPLIT"][1],
               "LABEL_EVERY": REPORT["LABEL_EVERY"], "STRICT_FRAMES": True, "DATASET": "otb", "DATASET_ROOT": "",
               "TRAIN_SPLIT": "", "TEST_DATASET": "", "TEST_ROOT": "", "TEST_SPLIT": "", "OVERWRITE": False,
               "CHECK": False}


def _dataloader(e):
    return {"OTB_ROOT": "OTB100", "LIST_FILE": "otb30_list.txt", "OUT_DIR": f"data/ROLO_data_exp{e}", "EXPERIMENT": e,
            **_EXTRACTION}


def _trainer(e):
    return {"EXPERIMENT": e, "DATA_DIR": f"data/ROLO_data_exp{e}", "DATASET": "otb", "EPOCHS": REPORT["EPOCHS"][-1],
            "SEQ_LEN": REPORT["SEQ_LEN"], "BATCH_SIZE": REPORT["BATCH_SIZE"], "LR": REPORT["LR"],
            "HIDDEN": REPORT["HIDDEN"], "HEAD": "coord", "INPUTS": "feature+box", "RESIDUAL": False,
            "SELECT": "confidence", "REPORT_CODE": False, "ZERO_UNDETECTED": False, "DROP_LAST_WINDOW": False,
            "REPORT_HEATMAP": False, "SEED": 0, "DEVICE": "auto", "CACHE_MODE": "auto", "SAVE_EVERY": 5,
            "RESUME": False, "CHECKPOINT_DIR": "checkpoints"}


EXPECTED = {
    "YOLOv8FeatureExtractor.py": {"WEIGHTS": REPORT["WEIGHTS"], "IMG_DIR": None, "IMG_SIZE": REPORT["IMG_SIZE"],
                                  "CONF": 0.25, "DEVICE": "auto", "BATCH_SIZE": 16, "DECODE_WORKERS": 0,
                                  "GPU_DECODE": False},
    "dataloader.py": _dataloader(1),
    "dataloader_exp2.py": _dataloader(2),
    "dataloader_exp3.py": _dataloader(3),
    "train.py": _trainer(1),
    "train_exp3.py": _trainer(3),
    "evaluation.py": {"EXPERIMENT": 3, "EPOCHS": REPORT["EPOCHS"][-1], "SPLIT": "test", "DATA_DIR": "data/ROLO_data_exp3",
                      "DATASET": "otb", "CHECKPOINT": "", "CHECKPOINT_DIR": "checkpoints", "HEAD": "coord",
                      "MODE": "online", "REPORT_CODE": False, "PROTOCOL": "all", "INIT_GT": False,
                      "HEATMAP_THRESHOLD": 0.5, "RESULTS_DIR": "", "OTB_ROOT": "OTB100", "STRICT_FRAMES": True,
                      "PLOTS": True, "VIDEOS": False, "DEVICE": "auto"},
    "reproduce.py": {"OTB_ROOT": "OTB100", "LIST_FILE": "otb30_list.txt", "OUT_DIR": "results/reproduction",
                     "WEIGHTS": REPORT["WEIGHTS"], "IMG_SIZE": REPORT["IMG_SIZE"], "CONF": 0.25, "TOP_K": 10,
                     "DEVICE": "auto", "BATCH_SIZE": 16, "N_TRAIN": REPORT["SPLIT"][0], "N_TEST": REPORT["SPLIT"][1],
                     "LABEL_EVERY": REPORT["LABEL_EVERY"], "STRICT_FRAMES": True, "EXPERIMENTS": "1,2,3",
                     "EPOCHS": ",".join(map(str, REPORT["EPOCHS"])), "HEATMAP": True, "REPORT_CODE": False,
                     "SEQ_LEN": REPORT["SEQ_LEN"], "TRAIN_BATCH_SIZE": REPORT["BATCH_SIZE"], "LR": REPORT["LR"],
                     "HIDDEN": REPORT["HIDDEN"], "SEED": 0, "QUICK": False, "QUICK_FRAMES": 24,
                     "QUICK_EPOCHS": "1,2", "PLAN_ONLY": False},
}


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_every_constant_is_pinned(repo_root, script):
    consts = config.script_constants(runpy.run_path(str(repo_root / script), run_name="not_main"))
    assert consts == EXPECTED[script]
    assert all(type(consts[k]) is type(v) for k, v in EXPECTED[script].items())  # 1e-4 stays a float, 640 an int


def test_the_list_file_splits_as_the_report(repo_root):
    from rolo.otb import read_list
    from rolo.splits import video_names

    names = read_list(repo_root / "otb30_list.txt")
    assert len(names) == REPORT["LIST_LENGTH"]
    split = video_names(1, names, REPORT["SPLIT"][0], REPORT["SPLIT"][1])
    assert tuple(map(len, (split["train"], split["test"], split["eval"]))) == REPORT["SPLIT"]
