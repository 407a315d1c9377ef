"""Every table of the report (Tables 1-4, and ROLO-heatmap) from one command: extraction,
training at 10/30/100 epochs for experiments 1-3, evaluation, and REPRODUCTION.md / .csv with
our numbers beside the report's.

    python reproduce.py --otb_root /data/OTB100                      # our defaults
    python reproduce.py --otb_root /data/OTB100 --report_code true   # the report's code's behaviour
    python reproduce.py --quick                                      # a few frames, 1-2 epochs: plumbing only
    python reproduce.py --plan_only                                  # print the plan and time estimate, then stop
    python reproduce.py --help                                       # list every constant

Resumable: started again, it skips every finished stage and says so (docs/reproduction.md).
"""
OTB_ROOT = "OTB100"                # OTB-100 as distributed: <OTB_ROOT>/<Seq>/img/0001.jpg, groundtruth_rect.txt
LIST_FILE = "otb30_list.txt"       # sequence names in experiment order: 22 train, 8 test, then eval
OUT_DIR = "results/reproduction"   # caches, checkpoints, results and REPRODUCTION.md go here
WEIGHTS = "yolov8s.pt"             # YOLOv8 weights, as in the dataloaders
IMG_SIZE = 640                     # frames resized to IMG_SIZE x IMG_SIZE, as in the report
CONF = 0.25                        # detection confidence threshold, as in the dataloaders
TOP_K = 10                         # detections cached per frame, as in the dataloaders
DEVICE = "auto"                    # "auto" = CUDA when available, else CPU
BATCH_SIZE = 16                    # frames per YOLO forward pass
N_TRAIN = 22                       # exp 1's training videos (the report's 22); exps 2, 3: the first N_TRAIN+N_TEST
N_TEST = 8                         # exp 1: the next N_TEST test; exps 2, 3: all N_TRAIN+N_TEST test too; the rest: eval
LABEL_EVERY = 3                    # experiments 2/3: every third frame / label trains, as in the report
STRICT_FRAMES = True               # ground truth must match OTB-100's frame table (False: shortened copies)
EXPERIMENTS = "1,2,3"              # which experiments to run (Table 4 needs 3)
EPOCHS = "10,30,100"               # checkpoints kept from one run to the largest, as the report's columns
HEATMAP = True                     # also ROLO-heatmap on experiment 3 (report section VI)
REPORT_CODE = False                # True: the report's code's behaviour wherever it moves a number
SEQ_LEN = 6                        # frames per LSTM window, the report's 6
TRAIN_BATCH_SIZE = 1               # windows per training step, the report's 1
LR = 1e-4                          # Adam learning rate, the report's 1e-4
HIDDEN = 512                       # LSTM hidden units, the report's 512
SEED = 0                           # seeds weights and shuffling
QUICK = False                      # smoke run: QUICK_FRAMES frames per video and QUICK_EPOCHS epochs
QUICK_FRAMES = 24                  # frames per video in a quick run
QUICK_EPOCHS = "1,2"               # epochs in a quick run
PLAN_ONLY = False                  # print the plan and the time estimate, then stop

if __name__ == "__main__":
    from rolo import cli, reproduce

    cli.run(reproduce.main, globals())
