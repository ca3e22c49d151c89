"""Verification: "did we make this?" from the file alone.

    verifier = Verifier(watermarker, records, index, manifests)
    report = verifier.verify(file_bytes)      # report.authenticity, .reasons, .record, ...

Evidence, strongest first: our keyed watermark decodes and its payload names a recorded artifact
(GENERATED_HERE); the perceptual fingerprint is within `radius` bits of a recorded artifact
(LIKELY_GENERATED_HERE: survives edits that destroyed the watermark); a valid C2PA manifest
claims genmedia made it (CLAIMED_ONLY: a manifest alone can be copied onto other pixels). The
C2PA status is reported either way; it is invalid after any pixel edit, by design.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from engines.image_files import decode_image
from genmedia.errors import NotFound
from provenance.c2pa import ManifestStatus, ManifestVerifier, sniff_mime
from provenance.fingerprint import MATCH_THRESHOLD, HammingIndex, fingerprint
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
    distance: int


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


def index_key(generation_id: str, index: int) -> str:
    return f"{generation_id}/{index}"


class Verifier:
    def __init__(self, watermarker: ImageWatermarker, records: RecordStore, index: HammingIndex,
                 manifests: ManifestVerifier, radius: int = MATCH_THRESHOLD):
        self.watermarker = watermarker
        self.records = records
        self.index = index
        self.manifests = manifests
        self.radius = radius

    def verify(self, data: bytes) -> VerifyReport:
        """Raises InvalidArgument for bytes that are not a supported image; Unavailable when the
        record store is down."""
        pixels = decode_image(data, "data")
        reasons: list[str] = []
        record: GenerationRecord | None = None

        manifest = None
        mime = sniff_mime(data)
        if mime is not None:
            manifest = self.manifests.read(data, mime)
            if manifest.present:
                state = "valid" if manifest.valid else "invalid (" + ", ".join(manifest.validation_errors[:3]) + ")"
                reasons.append(f"C2PA manifest present, {state}"
                               + (", trusted" if manifest.trusted else ""))

        detection = self.watermarker.detect(pixels) if min(pixels.shape[:2]) >= WATERMARK_MIN_SIDE else None
        if detection is not None and detection.found:
            artifact = self.records.find_by_payload(detection.payload)
            if artifact is not None:
                record = self._record(artifact.generation_id)
                reasons.insert(0, f"watermark decoded (confidence {detection.confidence:.6f}) and names "
                                  f"artifact {artifact.index} of generation {artifact.generation_id}")
            else:
                reasons.insert(0, "watermark decoded under our key, but no record has its payload")

        fp = fingerprint(pixels)
        hits = []
        for match in self.index.search(fp.bits, radius=self.radius, limit=MAX_MATCHES):
            gid, _, idx = match.key.rpartition("/")
            hits.append(FingerprintHit(gid, int(idx), match.distance))
        if hits:
            reasons.append(f"fingerprint within {hits[0].distance} of {self.radius} bits of generation "
                           f"{hits[0].generation_id}")

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
        return VerifyReport(
            authenticity, tuple(reasons), bool(detection and detection.found),
            detection.payload if detection and detection.found else None,
            detection.confidence if detection and detection.found else 0.0, manifest, tuple(hits), record,
        )

    def _record(self, generation_id: str) -> GenerationRecord | None:
        try:
            return self.records.get(generation_id)
        except NotFound:
            return None  # deleted (rolled back) since the index or payload was read
