"""YOLOv8 feature extractor: the most confident detection and a 512-d backbone feature per frame.

Library use (the report's API; see rolo/extractor.py for the details)::

    from YOLOv8FeatureExtractor import YOLOv8FeatureExtractor   # or: from rolo.extractor import ...
    ext = YOLOv8FeatureExtractor("yolov8s.pt", device="auto", imgsz=640, conf=0.25)
    box, feature = ext.extract(frame_bgr)        # box: cxcywh_norm float32[4]; feature: float32[512]
    boxes, feats, confs = ext.extract_batch(frames)
    dets = ext.extract_paths(jpeg_paths, batch_size=16, desc="Car4")   # Detections, decoding overlapped

As a script it runs the extractor over a folder of JPEGs and prints the
end-to-end frame rate (decoding included, after one warm-up batch)::

    python YOLOv8FeatureExtractor.py --img_dir data/OTB100/Car4/img --device cuda:0

``yolov8s.pt`` is downloaded on first use; without network, fetch it
elsewhere and pass --weights /path/to/yolov8s.pt (--weights yolov8s.yaml
builds the same network untrained, for checks only).
"""
import time
from pathlib import Path


from rolo.config import at_least, between, from_script
from rolo.errors import ConfigError, DataError
from rolo.extractor import YOLOv8FeatureExtractor
from rolo.otb import list_images

__all__ = ["YOLOv8FeatureExtractor"]

WEIGHTS = "yolov8s.pt"     # YOLOv8 or fine-tuned weights; a .pt can run code when loaded: trusted only
IMG_DIR = None             # folder of .jpg/.jpeg frames (required)
IMG_SIZE = 640             # frames are resized to IMG_SIZE x IMG_SIZE, as in the report
CONF = 0.25                # detection confidence threshold (Ultralytics' default)
DEVICE = "auto"            # "auto" = CUDA when available, else CPU; or "cpu", "cuda:0"
BATCH_SIZE = 16            # frames per YOLO forward pass
DECODE_WORKERS = 0         # 0: decode in threads; N: in N worker processes (compare the FPS; docs/scaling.md)
GPU_DECODE = False         # decode JPEGs on the device (nvJPEG on CUDA) and resize there (compare the FPS)


def main(script_globals, argv=None):
    cfg = from_script(script_globals, argv, checks={
        "IMG_SIZE": at_least(32), "CONF": between(0.0, 1.0), "BATCH_SIZE": at_least(1), "DECODE_WORKERS": at_least(0)})
    if not cfg.IMG_DIR:
        raise ConfigError("--img_dir is required: a folder of JPEG frames")
    img_dir = Path(cfg.IMG_DIR)
    if not img_dir.is_dir():
        raise DataError(f"--img_dir: folder not found: {img_dir}")
    paths = [p for p in list_images(img_dir) if p.suffix.lower() in (".jpg", ".jpeg")]
    if not paths:
        raise DataError(f"--img_dir: no .jpg/.jpeg files in {img_dir}")
    cfg.show()

    ext = YOLOv8FeatureExtractor(cfg.WEIGHTS, device=cfg.DEVICE, imgsz=cfg.IMG_SIZE, conf=cfg.CONF,
                                 decode_workers=cfg.DECODE_WORKERS, gpu_decode=cfg.GPU_DECODE)
    print(ext)
    try:
        # The first batch pays for lazy CUDA/cuDNN set-up (and the decode workers' start); keep it out of the timing.
        ext.extract_paths(paths[:cfg.BATCH_SIZE], batch_size=cfg.BATCH_SIZE, progress=False)
        t0 = time.perf_counter()
        dets = ext.extract_paths(paths, batch_size=cfg.BATCH_SIZE, desc=img_dir.name)
        if ext.device.type == "cuda":
            import torch

            torch.cuda.synchronize(ext.device)
        seconds = time.perf_counter() - t0
    finally:
        ext.close()
    print(f"{len(dets)} frames in {seconds:.2f} s: {len(dets) / seconds:.1f} FPS (decoding included); "
          f"detected in {int(dets.detected.sum())}/{len(dets)} frames; feature_dim {ext.feature_dim}")
    return dets


if __name__ == "__main__":
    from rolo.cli import run

    run(main, globals())
