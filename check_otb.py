"""Check an OTB copy against the sequence list before extracting features: every
listed sequence must open, its ground truth must parse and agree with the OTB-100
frame table, and no image may be empty (with --decode true: every image must
decode, whole, at its sequence's size). Every problem is reported at once.

    python check_otb.py --otb_root /data/OTB100                 # quick: files, ground truth, first frames
    python check_otb.py --otb_root /data/OTB100 --decode true   # also decode every frame (a few minutes)
    python check_otb.py --help                                  # list every constant

Exit status 0 when the copy is ready, 2 with an ``error:`` line otherwise.
"""
OTB_ROOT = "OTB100"                # OTB-100 as distributed: <OTB_ROOT>/<Seq>/img/0001.jpg, groundtruth_rect.txt
LIST_FILE = "otb30_list.txt"       # sequence names, one per line, as the dataloaders read them
STRICT_FRAMES = True               # ground truth must match OTB-100's frame table (False: accept shortened copies)
DECODE = False                     # decode every image too (slower): catches corrupt, cut-short and odd-sized frames

if __name__ == "__main__":
    from rolo import check, cli

    cli.run(check.main, globals())
