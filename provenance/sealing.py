"""Sealing: what makes a generated image ours before it is stored.

    sealer = Sealer(keys, software_version="0.1.0")
    sealed = sealer.seal(pixels, "image/png", encode, generation_id=..., index=0, model=..., model_version=...)

In order: the keyed payload (a short HMAC id of generation and index, `provenance.records.hmac`),
the invisible watermark in the pixels, the perceptual fingerprint of the watermarked pixels, the
file encoding (`encode`, the caller's), then the signed C2PA manifest embedded in the file. The
fingerprint is of what is released, so a later lookup compares like with like.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from provenance.c2pa import C2paSigner, ManifestInfo, SigningConfig
from provenance.fingerprint import fingerprint
from provenance.keys import ProvenanceKeys
from provenance.media_sealing import SMALL_VIDEO_PSNR_DB, VIDEO_PSNR_DB, SealedAudio, SealedVideo, seal_audio, \
    seal_video, video_psnr_db
from provenance.records.hmac import watermark_payload
from provenance.watermark import ImageWatermarker, WatermarkParams

PAYLOAD_BYTES = 8


@dataclass(frozen=True)
class SealedImage:
    data: bytes            # the encoded file, C2PA manifest embedded
    sha256: str
    payload: bytes         # the watermark payload (keyed short id)
    fingerprint: bytes     # 256-bit PDQ hash of the watermarked pixels
    width: int
    height: int


class Sealer:
    def __init__(self, keys: ProvenanceKeys, software_version: str):
        self.keys = keys
        self.software_version = software_version
        self.watermarker = ImageWatermarker(keys.watermark_key, payload_bytes=PAYLOAD_BYTES)
        # Same key and layout (the same detector reads all); video frames are marked stronger,
        # small ones more so (media_sealing.video_psnr_db).
        self._video_watermarkers = {
            psnr: ImageWatermarker(keys.watermark_key, payload_bytes=PAYLOAD_BYTES,
                                   params=WatermarkParams(psnr_db=psnr))
            for psnr in (VIDEO_PSNR_DB, SMALL_VIDEO_PSNR_DB)}
        self.signer = C2paSigner(SigningConfig(cert_chain_path=keys.c2pa_cert_chain,
                                               private_key_path=keys.c2pa_private_key))
        self._audio_watermarker = None

    def video_watermarker_for(self, height: int, width: int) -> ImageWatermarker:
        """The watermarker for video frames of this size."""
        return self._video_watermarkers[video_psnr_db(height, width)]

    @property
    def audio_watermarker(self):
        """The audio watermarker under the same key (made on first use)."""
        if self._audio_watermarker is None:
            from provenance.audio_watermark import AudioWatermarker
            from provenance.media_sealing import AUDIO_PAYLOAD_BYTES

            self._audio_watermarker = AudioWatermarker(self.keys.watermark_key,
                                                       payload_bytes=AUDIO_PAYLOAD_BYTES)
        return self._audio_watermarker

    def seal(self, pixels: np.ndarray, mime: str, encode: Callable[[np.ndarray], bytes], *, generation_id: str,
             index: int, model: str, model_version: str) -> SealedImage:
        """Raises ValueError for images the watermark cannot carry (sides under 64 px)."""
        payload = watermark_payload(self.keys.record_key, generation_id, index, PAYLOAD_BYTES)
        marked = self.watermarker.embed(np.ascontiguousarray(pixels[..., :3]), payload)
        fp = fingerprint(marked)
        info = ManifestInfo(generation_id=generation_id, model=model, model_version=model_version or "unknown",
                            software_version=self.software_version, watermark_payload_hex=payload.hex(),
                            fingerprint_hex=fp.bits.hex())
        data = self.signer.sign(encode(marked), mime, info)
        return SealedImage(data, hashlib.sha256(data).hexdigest(), payload, fp.bits, marked.shape[1],
                           marked.shape[0])

    def seal_video(self, frames: np.ndarray, fps: float, mime: str, encode: Callable[[np.ndarray], bytes], *,
                   generation_id: str, index: int, model: str, model_version: str) -> SealedVideo:
        """Watermark every frame, fingerprint per second, encode, C2PA-sign MP4 (see
        ``media_sealing.seal_video``)."""
        return seal_video(self, frames, fps, mime, encode, generation_id=generation_id, index=index,
                          model=model, model_version=model_version)

    def seal_audio(self, samples: np.ndarray, sample_rate: int, mime: str,
                   encode: Callable[[np.ndarray], bytes], *, generation_id: str, index: int, model: str,
                   model_version: str) -> SealedAudio:
        """Audio watermark, audio fingerprint, encode, C2PA-sign WAV/FLAC/MP3 (see
        ``media_sealing.seal_audio``)."""
        return seal_audio(self, samples, sample_rate, mime, encode, generation_id=generation_id, index=index,
                          model=model, model_version=model_version)
