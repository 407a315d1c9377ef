"""Track one target in any video with a trained ROLO checkpoint: per frame one YOLO pass,
the detection choice (SELECT) and one LSTM step over the last SEQ_LEN frames.

    python track.py --source clip.mp4 --init 20,40,30,40 --checkpoint checkpoints/rolo_lstm_exp3_100.pth
    python track.py --source Crossing --otb_root OTB100      # OTB sequence: frame-1 box and metrics from its GT
    python track.py --source frames/ --init 20,40,30,40      # a folder of images, in natural order
    python track.py --source 0 --show true                   # webcam 0; draw the first box with the mouse
    python track.py --help                                   # list every constant

Writes OUT_DIR/<name>.txt (OTB result format, one x,y,w,h line per frame),
<name>.mp4 (prediction red, ground truth green) and <name>.json (settings,
speed, metrics). With ground truth it prints AOS, AUC, SR@0.5 and P@20px as
evaluation.py does; the FPS is printed at the end (live with --show).
"""
SOURCE = ""                        # video file, folder of frames, OTB sequence name (under OTB_ROOT) or webcam index
INIT = ""                          # first-frame box "x,y,w,h" in pixels; empty = OTB ground truth, else selectROI
CHECKPOINT = "checkpoints/rolo_lstm_exp3_100.pth"  # any checkpoint of train.py / train_exp3.py (either head)
WEIGHTS = "yolov8s.pt"             # unless given, the checkpoint's (its cache's); a .pt can run code: trusted only
SELECT = "auto"                    # detection fed to the LSTM: "confidence" (report), "target" (follows it), "auto" (the checkpoint's rule)
OUT_DIR = "results/track"          # result file, annotated video and summary go here
OTB_ROOT = "OTB100"                # where an OTB sequence name is looked up
STRICT_FRAMES = True               # as in the dataloaders (False: accept shortened OTB copies)
IMG_SIZE = 640                     # unless given, the checkpoint's (its cache's); a different value given is refused
CONF = 0.25                        # detection confidence threshold; unless given, the checkpoint's, as IMG_SIZE
REPORT_CODE = False                # the report's code's input rules (docs/reproduction.md); unless given, the checkpoint's
TOP_K = 10                         # detections the "target" rule chooses from
HEATMAP_THRESHOLD = 0.5            # heatmap head: region kept around the peak, as a fraction of the peak
DEVICE = "auto"                    # "auto" = CUDA when available, else CPU
MAX_FRAMES = 0                     # stop after this many frames (0 = the whole source; webcams: q or Ctrl-C)
VIDEO = True                       # write the annotated mp4
SHOW = False                       # show the tracking live with its FPS (needs a display)

if __name__ == "__main__":
    from rolo import cli, tracker

    cli.run(tracker.main, globals())
