"""Experiment 1 feature extraction: run YOLOv8 over the OTB videos of experiment 1
and cache, per video, the pooled backbone feature, the detector's box and the
ground truth (see README, "Data layout").

    python dataloader.py                                  # the constants below
    python dataloader.py --otb_root /data/OTB100 --device cuda:0
    python dataloader.py --help                           # list every constant

Complete videos are skipped on a rerun (use --overwrite true to redo them).
Under torchrun the videos are shared among the ranks (docs/scaling.md):

    torchrun --standalone --nproc_per_node 8 dataloader.py --device cuda
"""
OTB_ROOT = "OTB100"                # OTB-100 as distributed: <OTB_ROOT>/<Seq>/img/0001.jpg, groundtruth_rect.txt
LIST_FILE = "otb30_list.txt"       # sequence names in experiment order: 22 train, 8 test, then eval
OUT_DIR = "data/ROLO_data_exp1"     # cache root; gets train/, test/, eval/ with one folder per video
EXPERIMENT = 1                     # 1: 22/8 videos; 2: every 3rd frame trains; 3: every 3rd label trains
DETECTOR = "yolov8"                # feature extractor by name (rolo.extractor.EXTRACTORS; docs/datasets.md)
WEIGHTS = "yolov8s.pt"             # YOLOv8 or fine-tuned weights (finetune_yolo.py); a .pt can run code: trusted only
IMG_SIZE = 640                     # frames are resized to IMG_SIZE x IMG_SIZE, as in the report
CONF = 0.25                        # detection confidence threshold (Ultralytics' default)
TOP_K = 10                         # detections cached per frame, so the choice rule can change later
DEVICE = "auto"                    # "auto" = CUDA when available, else CPU; or "cpu", "cuda:0"
BATCH_SIZE = 16                    # frames per YOLO forward pass
DECODE_WORKERS = 0                 # 0: decode frames in threads; N: in N worker processes (many-core hosts)
GPU_DECODE = False                 # decode JPEGs on the device (nvJPEG on CUDA) and resize there (docs/scaling.md)
FEATURE_DTYPE = "float32"          # "float16" halves the cache on disk (effect on AOS: docs/scaling.md)
N_TRAIN = 22                       # exp 1: the first N_TRAIN listed videos train; exps 2, 3: the first N_TRAIN+N_TEST
N_TEST = 8                         # exp 1: the next N_TEST test; exps 2, 3: all N_TRAIN+N_TEST test too; the rest: eval
LABEL_EVERY = 3                    # experiments 2/3: frames 1, 1+LABEL_EVERY, ... carry training labels
STRICT_FRAMES = True               # ground truth must match OTB-100's frame table (False: accept shortened copies)
DATASET = "otb"                    # otb (OTB_ROOT + LIST_FILE plan) or lasot, got10k, trackingnet, uav123, nfs, synthetic
DATASET_ROOT = ""                  # DATASET's folder as distributed (docs/datasets.md); empty = OTB_ROOT
TRAIN_SPLIT = ""                   # DATASET's split that fills train/ (e.g. "train"; otb: a list file); empty = LIST_FILE plan
TEST_DATASET = ""                  # a dataset whose TEST_SPLIT fills test/ (e.g. "otb"); empty = LIST_FILE plan / none
TEST_ROOT = ""                     # TEST_DATASET's folder as distributed; empty = OTB_ROOT
TEST_SPLIT = ""                    # its split ("test", "val"; otb: a list file); empty = its only split / OTB-100
OVERWRITE = False                  # re-extract videos that are already cached
CHECK = False                      # only check OTB_ROOT against LIST_FILE (every image decoded), then exit

if __name__ == "__main__":
    from rolo import cli, extraction

    cli.run(extraction.main, globals())
