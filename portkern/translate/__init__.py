"""Rule-based CUDA <-> HIP translation with warp/wavefront hazard analysis.

``translate_source`` works on one file; ``translate_paths`` on files and the project headers they
include. Mapping tables live in ``portkern/data/maps`` (see README.md in this folder).
"""

from portkern.translate.engine import translate_source
from portkern.translate.maps import load_maps
from portkern.translate.paths import translate_paths
from portkern.translate.records import Hazard, SourceRegion, TranslationResult, Unconverted

__all__ = ["translate_source", "translate_paths", "load_maps", "TranslationResult", "Hazard", "SourceRegion",
           "Unconverted"]
