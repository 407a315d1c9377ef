"""Train the ROLO LSTM for experiment 3 (ground truth on every third frame, loss masked elsewhere)
on the cache the dataloader wrote, and save checkpoints/rolo_lstm_exp{E}_{EPOCHS}.pth.

    python train_exp3.py                              # the report's settings (batch 1, 100 epochs)
    python train_exp3.py --epochs 30 --device cuda
    python train_exp3.py --resume true                # continue a killed run from its last saved epoch
    python train_exp3.py --head heatmap               # ROLO-heatmap (report section VI): rolo_heatmap_exp3_{EPOCHS}.pth
    python train_exp3.py --help                       # list every constant

The defaults are the report's (batch 1, LR 1e-4). The fast choice is
--batch_size 16 --lr 1e-3: in bench.py's "batched" stage it came within 0.01
of the batch-1 run's test AOS after half the epochs, in 1/15 of the time
(README, "Speed").
"""
EXPERIMENT = 3                     # which experiment's cache this is (1, 2 or 3)
DATA_DIR = "data/ROLO_data_exp3"    # the dataloader's OUT_DIR; training reads DATA_DIR/train
DATASET = "otb"                    # dataset of DATA_DIR/train (the dataloader's DATASET): a cache of another is refused
EPOCHS = 100                       # the report trains 10, 30 and 100
SEQ_LEN = 6                        # frames per LSTM window
BATCH_SIZE = 1                     # windows per step: the report's 1; fast choice 16 (README "Speed")
LR = 1e-4                          # Adam learning rate: the report's 1e-4; 1e-3 with BATCH_SIZE 16
HIDDEN = 512                       # LSTM hidden units
HEAD = "coord"                     # "coord": 4 box numbers; "heatmap": 32x32 grid (report section VI)
INPUTS = "feature+box"             # LSTM input per frame: "feature+box" (report) or "box" (detector boxes only)
RESIDUAL = False                   # True: output = detector box + a learned correction (coord head; README "The demo")
SELECT = "confidence"              # detection fed to the LSTM: "confidence" (report) or "target" (follows the target)
REPORT_CODE = False                # True: the report's code wherever it moves a number (all three below; docs/reproduction.md)
ZERO_UNDETECTED = False            # a frame without a detection gets an all-zero feature (report's code)
DROP_LAST_WINDOW = False           # N - SEQ_LEN windows per video, the last one never trains (report's code)
REPORT_HEATMAP = False             # heatmap head as coded: binary grids, last-step loss, unlabelled-end windows dropped
SEED = 0                           # seeds weights and shuffling: same settings, same weights on CPU
DEVICE = "auto"                    # "auto" = CUDA when available, else CPU
CACHE_MODE = "auto"                # "ram": load the cache into memory; "mmap": stream it; "auto": ram if it fits
SAVE_EVERY = 5                     # epochs between resumable checkpoints (<name>.last.pth)
RESUME = False                     # continue from <name>.last.pth when it exists
CHECKPOINT_DIR = "checkpoints"     # where checkpoints are written

if __name__ == "__main__":
    from rolo import cli, training

    cli.run(training.main, globals())
