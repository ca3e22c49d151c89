"""Provenance: what makes an artifact provably ours, and how to check (no Ray).

- `provenance.watermark`: keyed invisible image watermark (luminance, crop- and scale-robust).
- `provenance.fingerprint`: PDQ perceptual hashes and an exact Hamming-radius index; per-second
  video hashes (`fingerprint.video`), audio fingerprints and their index (`fingerprint.audio`).
- `provenance.c2pa`: signed C2PA manifests (PNG, JPEG, WebP) and their verification.
- `provenance.records`: the record store (SQLAlchemy; SQLite or PostgreSQL), migrations, retention.
- `provenance.audio_watermark`: keyed audio watermark (STFT magnitude, tiled in time).
- `provenance.sealing`: watermark + fingerprint + C2PA for one released image; `media_sealing`
  for videos (watermark in every frame, per-second PDQ) and audio clips.
- `provenance.verification`: "did we make this?" from the file alone (images; videos and audio
  through `media_verification`, decoded with bounded memory by `media_files`).
- `provenance.keys`: the secrets, from the environment.
"""
