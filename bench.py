"""Benchmark: report-style baselines against this code, on the same inputs, in one run.

Prints one table, stage by stage: baseline, ours, their ratio, the target,
and whether both gave the same outputs. Stages: extraction (frames/s against
the report's two-pass extractor and against a bare forward of the network),
training (batch-1 epoch; batched training to the batch-1 test AOS), memory
(peak RSS of a training run against the cache size), evaluation (all windows
of a split) and the online tracker's per-frame step; left out of --quick true
unless named: scale (training steps from a LaSOT-size cache on disk against
20,000 frames in RAM, and its peak RSS) and distributed (dataloader.py and
train.py as 1 process and as DIST_RANKS ranks under torchrun). README "Speed"
and docs/scaling.md hold the figures and the machine they were measured on.

    python bench.py --quick true          # small sizes, about 1 minute on 2 CPU cores
    python bench.py                       # the full run (about 8 minutes on 2 CPU cores)
    python bench.py --stages extraction,online --img_dir data/OTB100/Car4/img --device cuda
    python bench.py --quick true --stages scale,distributed   # 350k-frame cache; torchrun on CPU
    python bench.py --stages scale        # the 3.5M-frame cache (3.6 GB, built once under SCALE_DIR)
    python bench.py --help                # list every constant

Needs no download: frames are synthesised (rolo.synthetic) unless IMG_DIR is
given, features are synthesised (rolo.synthetic_cache), and yolov8s.yaml builds
the untrained YOLOv8s, the same compute as yolov8s.pt.
"""
QUICK = False                  # small sizes (see rolo/bench.py PRESETS)
DEVICE = "auto"                # "auto" = CUDA when available, else CPU
STAGES = "all"                 # "all" or a comma list: extraction,training,batched,memory,evaluation,online,scale,distributed
IMG_DIR = ""                   # folder of JPEG frames; empty = synthesise them
WEIGHTS = "yolov8s.yaml"       # detector .pt (runs code: trusted only), Ultralytics name or yaml (untrained)
CONF = 0.25                    # detector threshold, as the dataloaders
FRAMES = 0                     # frames through the extractor (0 = the mode's: 8 quick, 16 full)
IMG_SIZE = 0                   # extractor input size (0 = the mode's: 320 quick, 640 full)
EXTRACT_BATCH = 0              # our extractor's frames per forward (0 = the mode's: 4)
REPEATS = 0                    # timed runs per stage, median reported (0 = the mode's: 2 quick, 3 full)
FAST_BATCH_SIZE = 16           # the fast training choice measured against batch 1 (train.py BATCH_SIZE)
FAST_LR = 1e-3                 # its learning rate (train.py LR)
SEED = 0                       # seeds the synthetic frames, features and weights
WORK_DIR = ""                  # where the temporary inputs go; empty = the system's temp folder
SCALE_DIR = ""                 # where the scale stage keeps its LaSOT-size cache (3.6 GB, reused); empty = ~/.cache/rolo/bench-scale
DIST_RANKS = 2                 # ranks of the distributed stage's torchrun runs (compared with 1 process)
JSON = ""                      # also write the rows to this JSON file

if __name__ == "__main__":
    from rolo import bench, cli

    cli.run(bench.main, globals())
