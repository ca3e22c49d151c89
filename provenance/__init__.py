"""Provenance: what makes an artifact provably ours, and how to check (no Ray).

- `provenance.watermark`: keyed invisible image watermark (luminance, crop- and scale-robust).
- `provenance.fingerprint`: PDQ perceptual hashes and an exact Hamming-radius index.
- `provenance.c2pa`: signed C2PA manifests (PNG, JPEG, WebP) and their verification.
- `provenance.records`: the record store (SQLAlchemy; SQLite or PostgreSQL), migrations, retention.
- `provenance.sealing`: watermark + fingerprint + C2PA for one released image.
- `provenance.verification`: "did we make this?" from the file alone.
- `provenance.keys`: the secrets, from the environment.
"""
