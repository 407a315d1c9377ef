"""Evaluate a trained ROLO checkpoint on a cached split: per-video AOS beside the
report's Tables 1-4, the OTB metrics (success AUC, SR@0.5, precision @20px),
result files in the toolkits' layouts (docs/datasets.md) and plots.

    python evaluation.py --experiment 3 --epochs 100              # test split
    python evaluation.py --experiment 3 --epochs 100 --split eval
    python evaluation.py --mode report                            # the report's window-averaged protocol
    python evaluation.py --head heatmap                           # ROLO-heatmap: checkpoints/rolo_heatmap_exp3_100.pth
    python evaluation.py --help                                   # list every constant

The printed table shows online, held-out, report-protocol and raw-YOLO AOS
side by side; README "Reading the output" explains each column. A run replaces
its RESULTS_DIR whole (results/<checkpoint name>_<split> with --checkpoint), so
no file of an earlier run stays beside its own.
"""
EXPERIMENT = 3                     # experiment of the checkpoint and cache (1, 2 or 3)
EPOCHS = 100                       # picks checkpoints/rolo_lstm_exp{EXPERIMENT}_{EPOCHS}.pth and the report column
SPLIT = "test"                     # "test" or "eval" (the 3 generalisation videos)
DATA_DIR = "data/ROLO_data_exp3"   # the dataloader's OUT_DIR
DATASET = "otb"                    # dataset of the evaluated split (the dataloader's TEST_DATASET or DATASET)
CHECKPOINT = ""                    # a checkpoint path; empty = CHECKPOINT_DIR/rolo_lstm_exp{E}_{EPOCHS}.pth
CHECKPOINT_DIR = "checkpoints"     # where train.py saved it
HEAD = "coord"                     # "coord" or "heatmap"; picks the default checkpoint's name, else read from it
MODE = "online"                    # primary result: "online" (one prediction per frame) or "report" (window average)
REPORT_CODE = False                # the report's code (docs/reproduction.md); unless given, the checkpoint's setting
PROTOCOL = "all"                   # "all" frames, or "held-out": frames whose label was not trained on
INIT_GT = False                    # OPE-style: frame 1's box is the ground truth (input and output)
HEATMAP_THRESHOLD = 0.5            # heatmap head: region kept around the peak, as a fraction of the peak
RESULTS_DIR = ""                   # output folder (a run replaces it whole); empty = results/exp{E}_{EPOCHS}_{SPLIT}
OTB_ROOT = "OTB100"                # frames for the montage and videos (skipped when absent)
STRICT_FRAMES = True               # as in the dataloaders
PLOTS = True                       # write success/precision plots and the montage
VIDEOS = False                     # also write an annotated mp4 per video (GT green, prediction red)
DEVICE = "auto"                    # "auto" = CUDA when available, else CPU

if __name__ == "__main__":
    from rolo import cli, evaluation

    cli.run(evaluation.main, globals())
