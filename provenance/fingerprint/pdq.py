"""PDQ perceptual hash (Meta's 256-bit DCT-sign hash) of RGB uint8 images.

    fp = fingerprint(rgb_uint8)            # Fingerprint(bits=32 bytes, quality=0..100)
    hamming(fp.bits, other.bits) <= MATCH_THRESHOLD   # "same picture"

PDQ: luma -> two X,Y passes of a Jarosz box filter -> 64 x 64 decimation -> the 16 x 16
lowest non-DC DCT coefficients -> one bit per coefficient, set when it is above their
median.  So every hash has ~128 bits set, unrelated images sit near 128 bits apart, and
edits that keep the picture's coarse layout (re-encoding, scaling, blur, brightness and
contrast changes) flip few bits.  PDQ is *not* robust to crops (even small ones),
rotations or flips (PDQ has dihedral variants for flips and 90-degree turns; we do not
index them).

Every image is first resampled to 512 x 512 (``canonical_size``: area averaging when
shrinking, bilinear when enlarging, aspect ignored; PDQ itself samples a 64 x 64 grid
whatever the aspect), then hashed by the ``pdqhash`` package's C++ code (see ``native``).
For a 512 x 512 image the hash is bit-identical to ``pdqhash.compute`` / PDQ's reference.
The fixed size makes the cost independent of the input size and, more importantly, makes
the hash nearly invariant to rescaling: hashing at the native size, PDQ's box-filter
window and sampling grid depend on the size, and a 0.5x or 0.75x downscale (not resized
back) or an aspect change moves photos by 10-20 bits on average, up to ~60; at the fixed
size they move by ~2-4 bits.

``quality`` is PDQ's gradient-based confidence (0..100); Meta advises not trusting hashes
of quality < 50 (flat or nearly flat images: their hashes are noise-dominated).

Threshold: PDQ's published match threshold is a distance <= 31 of 256 bits; we keep it
(``MATCH_THRESHOLD``).  Measured by ``loadtests/bench_fingerprint.py`` on 16 scikit-image
photos at 512 x 512, watermarked as released: JPEG q75 / q50, 0.5x resize and back, blur
sigma 1, +-20 % brightness / contrast and 0.5x / 0.75x / aspect rescales move a hash by
0..24 bits (means 0..5): all within 31.  Crops that keep 90 % or 75 % of the area (not
resized back) move it by ~50..140 bits: PDQ does not survive crops (a 1 % shift of the
frame already costs ~50 bits); crops are the watermark's job.  Different photos are at
least 104 bits apart (120 pairs, mean 128; uniform random hashes: 128 +- 8, P(d <= 31)
~ 1e-37), so 31 leaves a wide margin against false matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from provenance.fingerprint import native
from provenance.images import check_rgb

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
MATCH_THRESHOLD = 31  # PDQ's published threshold: distance <= 31 means "same picture"
MIN_QUALITY = 50  # below this PDQ's own guidance is not to trust the hash
MIN_SIDE = 64  # PDQ decimates to a 64 x 64 grid; smaller images would be upsampled
CANONICAL_SIDE = 512  # every image is resampled to 512 x 512 before hashing
_LUMA = np.array([[0.299, 0.587, 0.114]], dtype=np.float32)  # RGB -> Y, as PDQ


@dataclass(frozen=True)
class Fingerprint:
    """A PDQ hash: ``bits`` (32 bytes, most significant first, as PDQ's hex) and
    ``quality`` (0..100)."""

    bits: bytes
    quality: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "bits", check_bits(self.bits))
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) or not (
                0 <= self.quality <= 100):
            raise ValueError(f"quality must be an int from 0 to 100, got {self.quality!r}")

    @property
    def hex(self) -> str:
        """The 64-digit lowercase hex form (PDQ's canonical text form)."""
        return self.bits.hex()

    @classmethod
    def from_hex(cls, text: str, quality: int = 100) -> "Fingerprint":
        return cls(from_hex(text), quality)

    def distance(self, other: "Fingerprint | bytes") -> int:
        return hamming(self.bits, other.bits if isinstance(other, Fingerprint) else other)

    def matches(self, other: "Fingerprint | bytes", threshold: int = MATCH_THRESHOLD) -> bool:
        return self.distance(other) <= threshold


def check_bits(bits: bytes) -> bytes:
    """``bits`` as bytes, checked to be a 256-bit hash (bytes, bytearray or memoryview)."""
    if not isinstance(bits, (bytes, bytearray, memoryview)):
        raise TypeError(f"hash bits must be bytes, got {type(bits).__name__}")
    bits = bytes(bits)
    if len(bits) != HASH_BYTES:
        raise ValueError(f"a PDQ hash is {HASH_BYTES} bytes ({HASH_BITS} bits), got {len(bits)} "
                         "bytes")
    return bits


def hamming(a: bytes, b: bytes) -> int:
    """Number of differing bits between two 32-byte hashes."""
    a, b = check_bits(a), check_bits(b)
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def to_hex(bits: bytes) -> str:
    return check_bits(bits).hex()


def from_hex(text: str) -> bytes:
    """32 bytes from a 64-digit hex string (case-insensitive, surrounding space ignored)."""
    if not isinstance(text, str):
        raise TypeError(f"hex hash must be a str, got {type(text).__name__}")
    s = text.strip()
    if len(s) != 2 * HASH_BYTES:
        raise ValueError(f"a PDQ hex hash has {2 * HASH_BYTES} digits, got {len(s)}")
    try:
        return bytes.fromhex(s)
    except ValueError:
        raise ValueError(f"not a hex string: {text!r}") from None


def canonical_size(img: np.ndarray, side: int = CANONICAL_SIDE) -> np.ndarray:
    """``img`` resampled to ``side`` x ``side`` (OpenCV area averaging along axes that shrink,
    bilinear along axes that grow); returned as is when it already has that size."""
    h, w = img.shape[:2]
    if h == side and w == side:
        return img
    if h >= side and w >= side:
        return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    if h <= side and w <= side:
        return cv2.resize(img, (side, side), interpolation=cv2.INTER_LINEAR)
    img = cv2.resize(img, (side, h), interpolation=_shrink_or_grow(w, side))
    return cv2.resize(img, (side, side), interpolation=_shrink_or_grow(h, side))


def _shrink_or_grow(n: int, side: int) -> int:
    return cv2.INTER_AREA if n > side else cv2.INTER_LINEAR


def fingerprint(rgb_uint8: np.ndarray) -> Fingerprint:
    """PDQ hash and quality of an RGB uint8 (H, W, 3) image (sides >= ``MIN_SIDE``) after
    resampling it to ``CANONICAL_SIDE`` x ``CANONICAL_SIDE``.

    Deterministic and thread-safe; the C++ part runs without the GIL."""
    img = np.ascontiguousarray(canonical_size(check_rgb(rgb_uint8, MIN_SIDE)))
    hash_luma = native.get_hash_luma()
    if hash_luma is None:  # fallback: pdqhash's own wrapper (slower, same algorithm)
        return fingerprint_reference(img)
    luma = cv2.transform(img.astype(np.float32), _LUMA)
    bits, quality = hash_luma(np.ascontiguousarray(luma.reshape(img.shape[:2])))
    return Fingerprint(bits, quality)


def fingerprint_reference(rgb_uint8: np.ndarray) -> Fingerprint:
    """``pdqhash.compute`` on the image as given (no resampling): the reference the fast path
    is tested against, and the fallback (after ``canonical_size``)."""
    import pdqhash

    img = np.ascontiguousarray(check_rgb(rgb_uint8, MIN_SIDE))
    vec, quality = pdqhash.compute(img)
    return Fingerprint(np.packbits(np.asarray(vec, np.uint8)).tobytes(), int(quality))
