"""ROLO (recurrent YOLO) in PyTorch: a reproduction of Ning et al. 2016 with YOLOv8.

Import the submodules you need; importing the package does no work.
"""
__version__ = "0.1.0"
