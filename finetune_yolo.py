"""Fine-tune YOLOv8 on one experiment's training data (single class "target"),
so that the detector feeding ROLO sees the target (README, "Fine-tuning").

    python finetune_yolo.py                                  # experiment 1: the 22 training videos
    python finetune_yolo.py --experiment 3 --device cuda:0   # the labels experiment 3 trains on
    python finetune_yolo.py --help                           # list every constant

Only the experiment's training labels are used (experiments 2/3: frames 1, 4,
7, ... of the 30 videos), never a test-only one. The YOLO dataset is written
under WORK_DIR and reused on a rerun; the printed .pt goes to the dataloader:
python dataloader.py --weights <it>.
"""
OTB_ROOT = "OTB100"                # OTB-100 as distributed: <OTB_ROOT>/<Seq>/img/0001.jpg, groundtruth_rect.txt
LIST_FILE = "otb30_list.txt"       # sequence names in experiment order: 22 train, 8 test, then eval
EXPERIMENT = 1                     # whose training labels to learn from (1, 2 or 3)
WORK_DIR = "data/yolo_finetune"    # the YOLO dataset, Ultralytics' run folder and the resulting .pt
WEIGHTS = "yolov8s.pt"             # base weights (yolov8s/n.yaml: untrained); a .pt can run code: trusted only
EPOCHS = 30                        # Ultralytics epochs
IMG_SIZE = 640                     # training image size (the dataloaders' IMG_SIZE)
BATCH_SIZE = 16                    # images per step (Ultralytics' default)
DEVICE = "auto"                    # "auto" = CUDA when available, else CPU; or "cpu", "cuda:0"; "0,1,2,3": Ultralytics DDP
WORKERS = 2                        # dataloader worker processes
AMP = True                         # mixed precision on CUDA (ignored on CPU); false if the loss turns NaN
CACHE = ""                         # "ram" or "disk": cache decoded images (Ultralytics' cache); "" = off
VAL = True                         # validate every epoch (the last epoch always is)
VAL_EVERY = 10                     # every VAL_EVERY-th training image forms the val set (training data only)
WARMUP_EPOCHS = 3.0                # Ultralytics' warmup; shorten it for runs of a few epochs
SEED = 0                           # Ultralytics' seed (deterministic mode)
N_TRAIN = 22                       # as in the dataloaders: exp 1 trains on the first N_TRAIN listed videos
N_TEST = 8                         # exps 2, 3 train on the first N_TRAIN+N_TEST (exp 1: unused here)
LABEL_EVERY = 3                    # experiments 2/3: frames 1, 1+LABEL_EVERY, ... carry training labels
STRICT_FRAMES = True               # ground truth must match OTB-100's frame table
DATASET = "otb"                    # otb (OTB_ROOT + LIST_FILE plan) or lasot, got10k, trackingnet, ... (docs/datasets.md)
DATASET_ROOT = ""                  # DATASET's folder as distributed; empty = OTB_ROOT
TRAIN_SPLIT = ""                   # DATASET's split to learn from (e.g. "train"); empty = the LIST_FILE plan
OVERWRITE = False                  # retrain even when weights with the same settings exist

if __name__ == "__main__":
    from rolo import cli, finetune

    cli.run(finetune.main, globals())
