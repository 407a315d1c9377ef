"""Figure 7 of the report: ROLO-heatmap's heatmaps over consecutive frames of one video.

Runs a heatmap checkpoint (train_exp3.py --head heatmap) online over a cached
video, as evaluation.py does, and saves a PNG strip: each frame with
sigmoid(logits) as a colour map (blue 0, red 1), the ground truth in green and
the decoded box in red, titled with its frame number and IoU.

    python heatmap_figure.py                                     # Girl2, frames 1-26, as in the report
    python heatmap_figure.py --sequence Car4 --start 100 --count 12 --cols 6
    python heatmap_figure.py --help                              # list every constant
"""
CHECKPOINT = "checkpoints/rolo_heatmap_exp3_100.pth"  # a heatmap-head checkpoint (a coord one is refused)
DATA_DIR = "data/ROLO_data_exp3"   # the dataloader's OUT_DIR the checkpoint was trained on
SPLIT = "test"                     # split folder holding SEQUENCE: "test", "eval" or "train"
SEQUENCE = "Girl2"                 # video to draw (the report's Figure 7 shows Girl2)
START = 1                          # first frame, as an OTB image number (0001.jpg is 1)
COUNT = 26                         # consecutive frames drawn (26 in the report's Figure 7)
COLS = 13                          # frames per row of the strip
TILE_WIDTH = 240                   # pixels per frame in the PNG (height follows the frame's aspect ratio)
HEATMAP_THRESHOLD = 0.5            # decoding: region kept around the peak, as in evaluation.py
ALPHA = 0.5                        # heatmap opacity over the frame
OTB_ROOT = "OTB100"                # the frames: <OTB_ROOT>/<SEQUENCE>/img/
STRICT_FRAMES = True               # as in the dataloaders (False accepts shortened copies)
OUT = "results/figure7_heatmap.png"  # the PNG written
DEVICE = "auto"                    # "auto" = CUDA when available, else CPU

if __name__ == "__main__":
    from rolo import cli, figures

    cli.run(figures.main, globals())
