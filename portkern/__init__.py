"""portkern: cross-vendor HIP/CUDA porting and tuning pipeline."""

__version__ = "0.1.0"
