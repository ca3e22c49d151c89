"""Sealing videos and audio clips: watermark, fingerprint, encode, C2PA where the container allows.

    sealed = sealer.seal_video(frames, fps, "video/mp4", encode, generation_id=..., index=0, ...)
    sealed = sealer.seal_audio(samples, sample_rate, "audio/flac", encode, generation_id=..., ...)

Video: the 8-byte keyed payload (as for images) is embedded in every frame by the image
watermark (so any frame of a clip carries it) at `video_psnr_db` instead of the images' 40.6 dB:
H.264 at CRF 23 smooths the watermark's mid band, and at 40.6 dB only ~1 frame in 4 of a
256 x 256 clip still decoded after it (moving pictures mask the stronger mark). Frames of 512 px
or more are marked at 38 dB (0.94-0.98 of panning 512 px frames decode after CRF 23); smaller ones
hold fewer 128 px tiles (2 x 2 at 256 px) and get 36 dB: on 256 px pans re-encoded at CRF 23,
0.71 of frames decoded at 38 dB, 0.79 at 37, 0.87 at 36.5, 0.92-0.93 at 36 (10 and 20 videos).
The image watermark needs frames of 256 px or more (at 128 x 128, a single 128 px tile, about
half the frames decode even unencoded); the per-second PDQ fingerprint is taken of the
marked frames (`provenance.fingerprint.video`), ``encode`` (the caller's) writes the file and,
for MP4, a signed C2PA manifest is embedded. WebM is released without one (the C2PA SDK has no
Matroska support): ``c2pa_signed`` says which.

Audio: the first `AUDIO_PAYLOAD_BYTES` of the same keyed payload are embedded by the audio
watermark (the record keeps all 8 bytes; `RecordStore.find_by_payload_prefix` finds it from
the prefix), the audio fingerprint (`provenance.fingerprint.audio`) is taken of the marked
samples, then ``encode`` and C2PA (WAV, FLAC, MP3).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from provenance.c2pa import ManifestInfo, is_supported
from provenance.fingerprint.audio import audio_fingerprint
from provenance.fingerprint.video import video_fingerprint
from provenance.records.hmac import watermark_payload
from provenance.records.types import MediaFingerprint

if TYPE_CHECKING:
    from provenance.sealing import Sealer

PAYLOAD_BYTES = 8          # recorded payload (and the video frames' watermark), as images
AUDIO_PAYLOAD_BYTES = 4    # the audio watermark carries this prefix of it
MAX_VIDEO_FRAMES = 24 * 600
VIDEO_PSNR_DB = 38.0        # frames whose short side is >= SMALL_VIDEO_SIDE
SMALL_VIDEO_PSNR_DB = 36.0  # smaller frames (fewer watermark tiles)
SMALL_VIDEO_SIDE = 512


def video_psnr_db(height: int, width: int) -> float:
    """Target PSNR of the watermark in a video frame of this size."""
    return SMALL_VIDEO_PSNR_DB if min(height, width) < SMALL_VIDEO_SIDE else VIDEO_PSNR_DB


@dataclass(frozen=True)
class SealedVideo:
    data: bytes                 # the encoded file (C2PA manifest embedded when c2pa_signed)
    sha256: str
    payload: bytes              # the 8-byte watermark payload (record it)
    fingerprint: bytes          # PDQ hash of the first marked frame (the artifact's fingerprint)
    media_fingerprints: tuple[MediaFingerprint, ...]   # one PDQ hash per second
    width: int
    height: int
    duration_s: float
    c2pa_signed: bool


@dataclass(frozen=True)
class SealedAudio:
    data: bytes
    sha256: str
    payload: bytes              # the 8-byte recorded payload; the watermark carries its prefix
    media_fingerprints: tuple[MediaFingerprint, ...]   # 32-bit sub-fingerprints, per second
    sample_rate: int
    duration_s: float
    c2pa_signed: bool


def _info(sealer: Sealer, generation_id: str, model: str, model_version: str, payload: bytes,
          fingerprint_hex: str | None) -> ManifestInfo:
    return ManifestInfo(generation_id=generation_id, model=model, model_version=model_version or "unknown",
                        software_version=sealer.software_version, watermark_payload_hex=payload.hex(),
                        fingerprint_hex=fingerprint_hex)


def seal_video(sealer: Sealer, frames: np.ndarray, fps: float, mime: str,
               encode: Callable[[np.ndarray], bytes], *, generation_id: str, index: int, model: str,
               model_version: str) -> SealedVideo:
    """``frames``: uint8 RGB (F, H, W, 3), sides >= 64. ValueError for frames the watermark
    cannot carry or a bad fps; C2paError if signing fails."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] < 3:
        raise ValueError(f"frames must be a (F, H, W, 3) uint8 array, got "
                         f"{getattr(frames, 'shape', type(frames).__name__)}")
    if not 1 <= len(frames) <= MAX_VIDEO_FRAMES:
        raise ValueError(f"a video must have 1 to {MAX_VIDEO_FRAMES} frames, got {len(frames)}")
    payload = watermark_payload(sealer.keys.record_key, generation_id, index, PAYLOAD_BYTES)
    watermarker = sealer.video_watermarker_for(frames.shape[1], frames.shape[2])
    marked = np.stack([watermarker.embed(np.ascontiguousarray(f[..., :3]), payload) for f in frames])
    per_second = video_fingerprint(marked, fps)
    media = tuple(MediaFingerprint(s.second, s.offset_s, s.bits, s.quality) for s in per_second)
    data = encode(marked)
    signed = is_supported(mime)
    if signed:
        info = _info(sealer, generation_id, model, model_version, payload, per_second[0].bits.hex())
        data = sealer.signer.sign(data, mime, info)
    return SealedVideo(data, hashlib.sha256(data).hexdigest(), payload, per_second[0].bits, media,
                       marked.shape[2], marked.shape[1], len(frames) / fps, signed)


def seal_audio(sealer: Sealer, samples: np.ndarray, sample_rate: int, mime: str,
               encode: Callable[[np.ndarray], bytes], *, generation_id: str, index: int, model: str,
               model_version: str) -> SealedAudio:
    """``samples``: float (n,) or (n, channels) in [-1, 1]. UnmarkableAudio (a ValueError) for
    audio the watermark cannot carry, ValueError for bad samples; C2paError if signing fails."""
    payload = watermark_payload(sealer.keys.record_key, generation_id, index, PAYLOAD_BYTES)
    marked = np.asarray(sealer.audio_watermarker.embed(samples, sample_rate,
                                                       payload[:AUDIO_PAYLOAD_BYTES]))
    fp = audio_fingerprint(marked, sample_rate)
    media = tuple(MediaFingerprint(second, offset, words) for second, offset, words in fp.per_second())
    data = encode(marked)
    signed = is_supported(mime)
    if signed:
        data = sealer.signer.sign(data, mime, _info(sealer, generation_id, model, model_version,
                                                    payload, None))
    return SealedAudio(data, hashlib.sha256(data).hexdigest(), payload, media, sample_rate,
                       len(marked) / sample_rate, signed)
