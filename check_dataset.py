"""Check a copy of any registered tracking dataset (docs/datasets.md) before extracting
features: every sequence of the split must open, its annotation and label files must parse
and agree with its images, and no image may be empty (with --decode true: every image must
decode, whole). Every problem is reported at once; check_otb.py is its OTB face.

    python check_dataset.py --dataset lasot --root /data/LaSOT --split test
    python check_dataset.py --dataset got10k --root /data/GOT-10k --split val --decode true
    python check_dataset.py --dataset uav123 --root /data/UAV123
    python check_dataset.py --help                                  # list every constant

Exit status 0 when the copy is ready, 2 with an ``error:`` line otherwise.
"""
DATASET = "otb"                    # otb, lasot, got10k, trackingnet, uav123, nfs or synthetic
ROOT = "OTB100"                    # the dataset's folder as distributed (docs/datasets.md, "Layouts")
SPLIT = ""                         # train/test (lasot, trackingnet), train/val/test (got10k); otb: a list file
STRICT_FRAMES = True               # otb: ground truth must match OTB-100's frame table
DECODE = False                     # decode every image too (slower): catches corrupt and cut-short frames

if __name__ == "__main__":
    from rolo import check, cli

    cli.run(check.dataset_main, globals())
