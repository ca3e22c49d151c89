"""Key handling: every keyed choice of the watermark is drawn from a keyed PRNG.

A secret ``key`` (bytes from configuration) is turned into independent, labelled
random streams with HMAC-SHA256(key, "genmedia-wm/v1/" + label).  The digest seeds a
PCG64 generator, so the layout of the mark (which DFT bins carry the sync template
and which carry each code bit, and their phases) and the payload whitening mask are
all key dependent: another key gives statistically independent patterns, and its
detector sees only noise.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

MIN_KEY_BYTES = 16
_DOMAIN = b"genmedia-wm/v1/"


def validate_key(key: bytes) -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"watermark key must be bytes, got {type(key).__name__}")
    key = bytes(key)
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"watermark key must be at least {MIN_KEY_BYTES} bytes (got {len(key)}); "
            "use a random secret from configuration"
        )
    return key


def keyed_digest(key: bytes, label: str) -> bytes:
    return hmac.new(key, _DOMAIN + label.encode("utf-8"), hashlib.sha256).digest()


def keyed_rng(key: bytes, label: str) -> np.random.Generator:
    """A numpy Generator seeded from HMAC-SHA256(key, label)."""
    seed = int.from_bytes(keyed_digest(key, label), "little")
    return np.random.Generator(np.random.PCG64(seed))


def keyed_bits(key: bytes, label: str, n: int) -> np.ndarray:
    """n keyed pseudo-random bits (uint8 0/1)."""
    return keyed_rng(key, label).integers(0, 2, size=n, dtype=np.uint8)
