"""Verification: "did we make this?" from the file alone.

    verifier = Verifier(watermarker, records, index, manifests)
    report = verifier.verify(file_bytes)      # report.authenticity, .reasons, .record, ...

Evidence, strongest first: our keyed watermark decodes and its payload names a recorded artifact
(GENERATED_HERE); the perceptual fingerprint is within `radius` bits of a recorded artifact
(LIKELY_GENERATED_HERE: survives edits that destroyed the watermark); a valid C2PA manifest
claims genmedia made it (CLAIMED_ONLY: a manifest alone can be copied onto other pixels). The
C2PA status is reported either way; it is invalid after any pixel edit, by design.

Videos and audio clips (MP4, WebM, Ogg; WAV, FLAC, MP3) are told apart from images by their
first bytes and checked by ``media_verification``: the image watermark in sampled frames or the
audio watermark, per-second fingerprints in ``video_index`` / ``audio_index`` (filled from the
record store by `media_verification.load_media_indexes`), and C2PA where the container has it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from engines.image_files import decode_image
from genmedia.errors import NotFound
from provenance.c2pa import C2paError, ManifestStatus, ManifestVerifier, sniff_mime
from provenance.fingerprint import MATCH_THRESHOLD, HammingIndex, fingerprint
from provenance.fingerprint.audio import AudioIndex
from provenance.records import GenerationRecord, RecordStore
from provenance.watermark import ImageWatermarker
from provenance.watermark.imaging import MIN_SIDE as WATERMARK_MIN_SIDE

MAX_MATCHES = 10


class Authenticity(str, Enum):
    GENERATED_HERE = "generated_here"
    LIKELY_GENERATED_HERE = "likely_generated_here"
    CLAIMED_ONLY = "claimed_only"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class FingerprintHit:
    generation_id: str
    index: int
    distance: int                          # PDQ bits (video: the best matched second); audio: bit errors
    seconds: tuple[int, ...] = ()          # video and audio: the recorded seconds matched
    ber: float | None = None               # audio: the bit error rate over the overlap


@dataclass(frozen=True)
class VerifyReport:
    authenticity: Authenticity
    reasons: tuple[str, ...]
    watermark_found: bool = False
    payload: bytes | None = None
    watermark_confidence: float = 0.0
    c2pa: ManifestStatus | None = None
    matches: tuple[FingerprintHit, ...] = ()
    record: GenerationRecord | None = field(default=None, repr=False)
    media_kind: str = "image"              # "image", "video" or "audio"
    matched_seconds: tuple[int, ...] = ()  # video and audio: seconds of the record that matched


def index_key(generation_id: str, index: int) -> str:
    return f"{generation_id}/{index}"


class Verifier:
    def __init__(self, watermarker: ImageWatermarker, records: RecordStore, index: HammingIndex,
                 manifests: ManifestVerifier, radius: int = MATCH_THRESHOLD, *,
                 video_index: HammingIndex | None = None, audio_index: AudioIndex | None = None,
                 audio_watermarker=None):
        """``index``: image PDQ hashes keyed `index_key`; ``video_index``: per-second video hashes
        keyed `media_verification.video_index_key`; ``audio_index``: audio fingerprints keyed
        `index_key` (both empty when not given). ``audio_watermarker`` defaults to an
        `AudioWatermarker` under the image watermarker's key, made on first use."""
        self.watermarker = watermarker
        self.records = records
        self.index = index
        self.manifests = manifests
        self.radius = radius
        self.video_index = HammingIndex() if video_index is None else video_index
        self.audio_index = AudioIndex() if audio_index is None else audio_index
        self._audio_watermarker = audio_watermarker

    @property
    def audio_watermarker(self):
        if self._audio_watermarker is None:
            from provenance.audio_watermark import AudioWatermarker
            from provenance.media_sealing import AUDIO_PAYLOAD_BYTES

            self._audio_watermarker = AudioWatermarker(self.watermarker.key,
                                                       payload_bytes=AUDIO_PAYLOAD_BYTES)
        return self._audio_watermarker

    def verify(self, data: bytes) -> VerifyReport:
        """The verdict on an image (PNG, JPEG, WebP), video (MP4, WebM, Ogg) or audio file (WAV,
        FLAC, MP3). Raises InvalidArgument naming ``data`` for bytes that are none of these or
        cannot be decoded, or are over the size limits; Unavailable when the record store is
        down."""
        from provenance import media_verification
        from provenance.media_files import sniff_kind

        kind = sniff_kind(data) if isinstance(data, (bytes, bytearray, memoryview)) and data else None
        if kind == "video":
            return media_verification.verify_video(self, bytes(data))
        if kind == "audio":
            return media_verification.verify_audio(self, bytes(data))
        pixels = decode_image(data, "data")
        reasons: list[str] = []
        record: GenerationRecord | None = None

        manifest = None
        mime = sniff_mime(data)
        if mime is not None:
            try:
                manifest = self.manifests.read(data, mime)
            except C2paError:  # the image decodes, but its container is too damaged to look for a manifest
                manifest = None
                reasons.append("C2PA: the file's structure could not be parsed to look for a manifest")
        if manifest is not None:
            if manifest.present:
                state = "valid" if manifest.valid else "invalid (" + ", ".join(manifest.validation_errors[:3]) + ")"
                reasons.append(f"C2PA manifest present, {state}"
                               + (", trusted" if manifest.trusted else ""))

        large_enough = min(pixels.shape[:2]) >= WATERMARK_MIN_SIDE
        if not large_enough:  # nothing we release is this small: neither mark nor fingerprint can be read
            reasons.append(f"image is {pixels.shape[1]}x{pixels.shape[0]}: too small to carry our watermark or "
                           f"fingerprint (both need {WATERMARK_MIN_SIDE} px per side)")
        detection = self.watermarker.detect(pixels) if large_enough else None
        if detection is not None and detection.found:
            artifact = self.records.find_by_payload(detection.payload)
            if artifact is not None:
                record = self._record(artifact.generation_id)
                reasons.insert(0, f"watermark decoded (confidence {detection.confidence:.6f}) and names "
                                  f"artifact {artifact.index} of generation {artifact.generation_id}")
            else:
                reasons.insert(0, "watermark decoded under our key, but no record has its payload")

        hits = []
        matches = self.index.search(fingerprint(pixels).bits, radius=self.radius, limit=MAX_MATCHES) \
            if large_enough else []
        for match in matches:
            gid, _, idx = match.key.rpartition("/")
            hits.append(FingerprintHit(gid, int(idx), match.distance))
        if hits:
            reasons.append(f"fingerprint within {hits[0].distance} of {self.radius} bits of generation "
                           f"{hits[0].generation_id}")

        authenticity, record = self.verdict(record, hits, manifest, reasons)
        return VerifyReport(
            authenticity, tuple(reasons), bool(detection and detection.found),
            detection.payload if detection and detection.found else None,
            detection.confidence if detection and detection.found else 0.0, manifest, tuple(hits), record,
        )

    def verdict(self, record: GenerationRecord | None, hits: list[FingerprintHit],
                manifest: ManifestStatus | None, reasons: list[str]
                ) -> tuple[Authenticity, GenerationRecord | None]:
        """The verdict from the evidence (the record a watermark named, fingerprint hits best
        first, the manifest), and the record it rests on; adds a reason when there is none."""
        if record is not None:
            authenticity = Authenticity.GENERATED_HERE
        elif hits:
            record = self._record(hits[0].generation_id)
            authenticity = Authenticity.LIKELY_GENERATED_HERE if record is not None else Authenticity.NOT_FOUND
        elif manifest is not None and manifest.present and manifest.valid and manifest.claim_generator \
                and manifest.claim_generator.startswith("genmedia"):
            authenticity = Authenticity.CLAIMED_ONLY
        else:
            authenticity = Authenticity.NOT_FOUND
        if authenticity is Authenticity.NOT_FOUND and not reasons:
            reasons.append("no watermark, no fingerprint match, no C2PA manifest of ours")
        return authenticity, record

    def _record(self, generation_id: str) -> GenerationRecord | None:
        try:
            return self.records.get(generation_id)
        except NotFound:
            return None  # deleted (rolled back) since the index or payload was read
