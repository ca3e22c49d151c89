"""Verification of videos and audio clips (called by `Verifier.verify`), and their indexes.

    load_media_indexes(records, video_index, audio_index)     # from the record store, at start
    video_index_key(generation_id, index, second)              # "gid/index/second"

Video: frames are sampled (`media_files`: 8 a second, at most 64); the image watermark is read
from up to `WATERMARK_FRAMES` of them spread over the clip (a payload that decodes with its CRC
in any frame counts; several disagreeing payloads: the most frequent); every sampled frame's
PDQ hash (quality >= MIN_QUALITY) is looked up in the per-second video index. An artifact
matches when its matched seconds line up in time with the clip (recorded second minus clip
time within a second of their median) and there are at least `MIN_MATCHED_SECONDS` of them
(one for clips shorter than two seconds: a 1 s trim holds one indexed second).

Audio: decoded (at most `media_files.MAX_SECONDS`), the audio watermark read, its short payload
looked up by prefix (ambiguous prefixes are resolved by the fingerprint match, else reported),
the audio fingerprint searched in the audio index.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

from provenance.c2pa import ManifestStatus, is_supported, sniff_mime
from provenance.fingerprint import HammingIndex, fingerprint
from provenance.fingerprint.audio import FRAME_RATE, AudioIndex, audio_fingerprint, words_from_bytes
from provenance.fingerprint.video import MIN_QUALITY
from provenance.media_files import decode_audio_clip, decode_video_sample
from provenance.records import GenerationRecord, RecordStore
from provenance.verification import (MAX_MATCHES, FingerprintHit, Verifier, VerifyReport,
                                     index_key)
from provenance.watermark.imaging import MIN_SIDE as WATERMARK_MIN_SIDE

WATERMARK_FRAMES = 6
MIN_MATCHED_SECONDS = 2


def video_index_key(generation_id: str, index: int, second: int) -> str:
    return f"{generation_id}/{index}/{second}"


def load_media_indexes(records: RecordStore, video_index: HammingIndex | None,
                       audio_index: AudioIndex | None, after_generation: str | None = None) -> tuple[int, int]:
    """Adds every recorded video second (quality >= MIN_QUALITY) to ``video_index`` and every
    audio clip's fingerprint to ``audio_index`` (keys already there are skipped), only of
    generations after ``after_generation`` when given (a refresh). Returns how many entries were
    added to each."""
    after = None if after_generation is None else (after_generation, -1, -1)
    added_video = added_audio = 0
    if video_index is not None:
        for row in records.iter_media_fingerprints("video", after=after):
            key = video_index_key(row.generation_id, row.index, row.second)
            if (row.quality or 0) >= MIN_QUALITY and key not in video_index:
                video_index.add(key, row.hash)
                added_video += 1
    if audio_index is not None:
        clips: dict[str, list[bytes]] = defaultdict(list)
        for row in records.iter_media_fingerprints("audio", after=after):
            clips[index_key(row.generation_id, row.index)].append(row.hash)
        for key, chunks in clips.items():
            if key not in audio_index:
                audio_index.add(key, words_from_bytes(b"".join(chunks)))
                added_audio += 1
    return added_video, added_audio


def _manifest(verifier: Verifier, data: bytes, reasons: list[str]) -> ManifestStatus | None:
    mime = sniff_mime(data)
    if mime is None or not is_supported(mime):
        return None
    try:
        manifest = verifier.manifests.read(data, mime)
    except Exception as exc:  # noqa: BLE001 - a container the SDK cannot parse has no manifest to report
        reasons.append(f"C2PA manifest not readable ({type(exc).__name__})")
        return None
    if manifest.present:
        state = "valid" if manifest.valid else "invalid (" + ", ".join(manifest.validation_errors[:3]) + ")"
        reasons.append(f"C2PA manifest present, {state}" + (", trusted" if manifest.trusted else ""))
    return manifest


def _spread(n: int, k: int) -> list[int]:
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, min(n, k))})


def verify_video(verifier: Verifier, data: bytes) -> VerifyReport:
    sample = decode_video_sample(data, "data")
    if sample is None:            # an MP4 or Ogg file with only sound
        return verify_audio(verifier, data)
    reasons: list[str] = []
    manifest = _manifest(verifier, data, reasons)
    record: GenerationRecord | None = None

    usable = [i for i, f in enumerate(sample.frames) if min(f.shape[:2]) >= WATERMARK_MIN_SIDE]
    detections = [verifier.watermarker.detect(sample.frames[i]) for i in
                  [usable[j] for j in _spread(len(usable), WATERMARK_FRAMES)]] if usable else []
    found = [d for d in detections if d.found]
    payload = Counter(d.payload for d in found).most_common(1)[0][0] if found else None
    confidence = max((d.confidence for d in found if d.payload == payload), default=0.0)
    if payload is not None:
        artifact = verifier.records.find_by_payload(payload)
        if artifact is not None:
            record = verifier._record(artifact.generation_id)
            reasons.insert(0, f"watermark decoded in {sum(d.payload == payload for d in found)} of "
                              f"{len(detections)} sampled frames and names artifact {artifact.index} "
                              f"of generation {artifact.generation_id}")
        else:
            reasons.insert(0, "watermark decoded under our key, but no record has its payload")

    hits = _video_hits(verifier, sample)
    if hits:
        reasons.append(f"{len(hits[0].seconds)} second(s) of generation {hits[0].generation_id} "
                       f"matched by fingerprint (best within {hits[0].distance} of {verifier.radius} bits)")
    authenticity, record = verifier.verdict(record, hits, manifest, reasons)
    return VerifyReport(authenticity, tuple(reasons), payload is not None, payload, confidence, manifest,
                        tuple(hits), record, media_kind="video",
                        matched_seconds=_seconds_of(hits, record))


def _video_hits(verifier: Verifier, sample) -> list[FingerprintHit]:
    pairs: dict[tuple[str, int], list[tuple[float, int, int]]] = defaultdict(list)
    for t, frame in zip(sample.times, sample.frames):
        if min(frame.shape[:2]) < 64:
            continue
        fp = fingerprint(frame)
        if fp.quality < MIN_QUALITY:
            continue
        for match in verifier.video_index.search(fp.bits, radius=verifier.radius, limit=MAX_MATCHES):
            gid, index, second = match.key.rsplit("/", 2)
            pairs[(gid, int(index))].append((t, int(second), match.distance))
    needed = 1 if sample.duration_s < 2.0 else MIN_MATCHED_SECONDS
    hits = []
    for (gid, index), found in pairs.items():
        shift = statistics.median(second - t for t, second, _ in found)
        aligned = [(second, d) for t, second, d in found if abs(second - t - shift) <= 1.0]
        seconds = tuple(sorted({second for second, _ in aligned}))
        if len(seconds) >= needed:
            hits.append(FingerprintHit(gid, index, min(d for _, d in aligned), seconds))
    hits.sort(key=lambda h: (-len(h.seconds), h.distance))
    return hits[:MAX_MATCHES]


def _seconds_of(hits: Iterable[FingerprintHit], record: GenerationRecord | None) -> tuple[int, ...]:
    for hit in hits:
        if record is not None and hit.generation_id == record.generation_id:
            return hit.seconds
    return ()


def verify_audio(verifier: Verifier, data: bytes) -> VerifyReport:
    clip = decode_audio_clip(data, "data")
    reasons: list[str] = []
    manifest = _manifest(verifier, data, reasons)
    record: GenerationRecord | None = None

    fp = audio_fingerprint(clip.samples, clip.sample_rate)
    hits = []
    for match in verifier.audio_index.search(fp.words, limit=MAX_MATCHES):
        gid, _, index = match.key.rpartition("/")
        first = max(0, match.offset)
        seconds = tuple(range(int(first / FRAME_RATE), int((first + match.frames - 1) / FRAME_RATE) + 1))
        hits.append(FingerprintHit(gid, int(index), int(round(match.ber * 32 * match.frames)), seconds,
                                   match.ber))

    try:
        detection = verifier.audio_watermarker.detect(clip.samples, clip.sample_rate)
    except ValueError as exc:     # too short or otherwise unfit for the detector
        detection = None
        reasons.append(f"audio watermark not checked: {exc}")
    payload = detection.payload if detection is not None and detection.found else None
    if payload is not None:
        candidates = verifier.records.find_by_payload_prefix(payload, kind="audio")
        if len(candidates) > 1:   # a short payload can be shared: let the fingerprint choose
            matched = {(h.generation_id, h.index) for h in hits}
            candidates = [a for a in candidates if (a.generation_id, a.index) in matched] or candidates
        if len(candidates) == 1:
            artifact = candidates[0]
            record = verifier._record(artifact.generation_id)
            reasons.insert(0, f"audio watermark decoded (confidence {detection.confidence:.6f}) and "
                              f"names artifact {artifact.index} of generation {artifact.generation_id}")
        elif candidates:
            reasons.insert(0, f"audio watermark decoded, but its payload is shared by {len(candidates)} "
                              "recorded clips and the fingerprint does not tell them apart")
        else:
            reasons.insert(0, "audio watermark decoded under our key, but no record has its payload")
    if hits:
        reasons.append(f"audio fingerprint matches generation {hits[0].generation_id} "
                       f"(bit error rate {hits[0].ber:.3f} over {len(hits[0].seconds)} s)")
    authenticity, record = verifier.verdict(record, hits, manifest, reasons)
    return VerifyReport(authenticity, tuple(reasons), payload is not None, payload,
                        float(detection.confidence) if payload is not None else 0.0, manifest,
                        tuple(hits), record, media_kind="audio", matched_seconds=_seconds_of(hits, record))
