"""Video fingerprints: the PDQ hash of one frame per second, so clips and trims can be matched.

    fp = video_fingerprint(frames, fps)        # (SecondHash(second, offset_s, bits, quality), ...)
    sample_frames(n_frames, fps)               # [(second, frame index)]: nearest each whole second

A video is indexed as the PDQ hashes (``pdq``) of the frames nearest 0 s, 1 s, 2 s, ... (the
first frame is the one nearest 0 s). A suspect clip is hashed more densely (`query_frames`:
several frames a second), so a trim that starts between two whole seconds still has a frame
within a fraction of a frame interval of an indexed one; a clip matches a video when several
of its frames fall within the PDQ radius of the same video's seconds (see
``provenance.media_verification``). Frames whose PDQ quality is under ``MIN_QUALITY`` (flat:
black or fade frames, common to many videos) are never used to match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from provenance.fingerprint.pdq import MIN_QUALITY, fingerprint

__all__ = ["MIN_QUALITY", "SecondHash", "query_frames", "sample_frames", "video_fingerprint"]


@dataclass(frozen=True)
class SecondHash:
    second: int          # the whole second this frame stands for
    offset_s: float      # when the frame is shown (frame index / fps)
    bits: bytes          # 32-byte PDQ hash
    quality: int         # PDQ quality 0..100


def _check(n_frames: int, fps: float) -> None:
    if not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if n_frames < 1:
        raise ValueError("a video needs at least one frame")


def sample_frames(n_frames: int, fps: float) -> list[tuple[int, int]]:
    """``(second, frame index)`` of the frame nearest each whole second 0, 1, 2, ... of a video
    of ``n_frames`` frames at ``fps`` (frame i is shown at i / fps)."""
    _check(n_frames, fps)
    out = []
    for second in range(int(math.floor((n_frames - 1) / fps)) + 1):
        index = min(n_frames - 1, int(round(second * fps)))
        if not out or out[-1][1] != index:
            out.append((second, index))
    return out


def query_frames(n_frames: int, fps: float, per_second: int = 8, limit: int = 64) -> list[int]:
    """Frame indices to hash in a suspect video: up to ``per_second`` a second (every frame at
    lower frame rates), at most ``limit`` spread over the whole clip."""
    _check(n_frames, fps)
    step = max(1.0, fps / per_second, n_frames / limit)
    return sorted({min(n_frames - 1, int(round(i * step))) for i in range(int(n_frames / step) + 1)})


def video_fingerprint(frames: np.ndarray, fps: float) -> tuple[SecondHash, ...]:
    """The per-second PDQ hashes of ``frames`` (uint8 RGB, (F, H, W, 3), sides >= 64) at
    ``fps``."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4:
        raise ValueError(f"frames must be a (F, H, W, 3) array, got "
                         f"{getattr(frames, 'shape', type(frames).__name__)}")
    out = []
    for second, index in sample_frames(len(frames), fps):
        fp = fingerprint(np.ascontiguousarray(frames[index]))
        out.append(SecondHash(second, index / fps, fp.bits, fp.quality))
    return tuple(out)
