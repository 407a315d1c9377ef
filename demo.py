"""See the whole ROLO pipeline work in a few minutes on a CPU: no GPU, no network, no OTB.

    python demo.py                       # the constants below
    python demo.py --ft_epochs 20        # any constant as --lower_case_name value
    python demo.py --help                # list every constant

It generates a synthetic benchmark in the OTB layout under OUT_DIR, fine-tunes
YOLOv8 on its training split, extracts features, trains the ROLO LSTM and
evaluates it with the same code as dataloader.py, train.py and evaluation.py,
then prints the AOS table (ROLO LSTM beside the raw detector boxes and a
constant-offset reference) and writes the plots. README, "The demo" explains
the output.
"""
OUT_DIR = "demo_out"               # everything the demo writes: otb/, yolo/, data/, checkpoints/, results/
N_SEQUENCES = 24                   # synthetic sequences; demo_split: 16 train, 4 test, 4 eval for 24
FRAMES = 40                        # frames per sequence
FRAME_WIDTH = 160                  # frame width in pixels
FRAME_HEIGHT = 120                 # frame height in pixels
SEED = 0                           # seeds the benchmark, the fine-tuning and the LSTM
EXPERIMENT = 1                     # whose split machinery to use (1: whole videos train; 2/3: every 3rd frame)
WEIGHTS = "yolov8s.pt"             # base detector, if here or downloadable; a .pt can run code: trusted only
FALLBACK_WEIGHTS = "yolov8n.yaml"  # otherwise: this network, untrained (a note says so)
FT_EPOCHS = 6                      # detector fine-tuning epochs
FT_IMG_SIZE = 128                  # fine-tuning image size
FT_BATCH_SIZE = 16                 # fine-tuning images per step
FT_WARMUP_EPOCHS = 0.5             # a short warmup: Ultralytics' default 3 leaves a 6-epoch run untrained
IMG_SIZE = 128                     # extraction image size (a multiple of 32)
CONF = 0.25                        # detection confidence threshold
LSTM_EPOCHS = 60                   # ROLO LSTM epochs (300 overfits the 16 training videos: README "The demo")
LSTM_BATCH_SIZE = 16               # windows per step (the report uses 1; 16 is far faster)
LSTM_LR = 1e-3                     # Adam learning rate for batch 16
LSTM_HIDDEN = 64                   # LSTM hidden units (the report: 512)
LSTM_INPUTS = "box"                # "box": detector boxes only; "feature+box": the report's (overfits 16 videos)
LSTM_RESIDUAL = True               # output = detector box + learned correction (the report: False)
DEVICE = "auto"                    # "auto" = CUDA when available, else CPU
THREADS = 0                        # torch CPU threads (extraction, LSTM); 0 = CPU count - 1, what Ultralytics fine-tunes with
PLOTS = True                       # success/precision plots and a montage per split
VERBOSE = False                    # Ultralytics' own logging (model summaries, per-batch bars)

if __name__ == "__main__":
    from rolo import cli, demo

    cli.run(demo.main, globals())
