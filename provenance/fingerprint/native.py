"""Direct access to the C++ PDQ routine compiled into the ``pdqhash`` wheel.

``pdqhash.compute`` builds the float luma plane with three float64 numpy passes and holds
the GIL; that is about half of its time on a 512 x 512 image.  The wheel's extension module
exports the reference C++ entry point ``facebook::pdq::hashing::pdqHash256FromFloatLuma``
(a plain ``T`` symbol), so we call it through ctypes on a float32 luma plane we make with
OpenCV: the same hashing code, about twice as fast, and the GIL is released while it runs.

The binding is checked once, on first use: a fixed test image hashed through ctypes (from
luma computed exactly as ``pdqhash.compute`` does) must equal ``pdqhash.compute``'s hash.
If the symbol is missing, its signature changed, or the check fails, ``hash_luma`` is None
and callers fall back to ``pdqhash.compute`` (pinned: pdqhash 0.2.8).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Callable

import numpy as np

# void pdqHash256FromFloatLuma(float* fullBuffer1, float* fullBuffer2, int numRows,
#     int numCols, float buffer64x64[64][64], float buffer16x64[16][64],
#     float buffer16x16[16][16], Hash256& hash, int& quality)
_SYMBOL = "_ZN8facebook3pdq7hashing23pdqHash256FromFloatLumaEPfS2_iiPA64_fS4_PA16_fRNS1_7Hash256ERi"

HashLuma = Callable[[np.ndarray], tuple[bytes, int]]

_lock = threading.Lock()
_resolved = False
_hash_luma: HashLuma | None = None


def words_to_bytes(words: np.ndarray) -> bytes:
    """PDQ's Hash256 (16 uint16 words, w[0] least significant) to 32 bytes, most significant
    first: the byte order of PDQ's canonical 64-digit hex string."""
    return np.ascontiguousarray(words[::-1], dtype=">u2").tobytes()


def _bind() -> HashLuma | None:
    try:
        from pdqhash import bindings
        fn = getattr(ctypes.CDLL(bindings.__file__), _SYMBOL)
    except (ImportError, OSError, AttributeError):
        return None
    f32 = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS,WRITEABLE")
    fn.restype = None
    fn.argtypes = [f32, f32, ctypes.c_int, ctypes.c_int, f32, f32, f32,
                   np.ctypeslib.ndpointer(np.uint16, shape=(16,), flags="C_CONTIGUOUS,WRITEABLE"),
                   ctypes.POINTER(ctypes.c_int)]

    def hash_luma(luma: np.ndarray) -> tuple[bytes, int]:
        """Hash a C-contiguous float32 (H, W) luma plane; the plane is overwritten."""
        rows, cols = luma.shape
        scratch = np.empty_like(luma)
        b64 = np.empty((64, 64), np.float32)
        b16x64 = np.empty((16, 64), np.float32)
        b16 = np.empty((16, 16), np.float32)
        words = np.zeros(16, np.uint16)
        quality = ctypes.c_int(0)
        fn(luma, scratch, rows, cols, b64, b16x64, b16, words, ctypes.byref(quality))
        return words_to_bytes(words), int(quality.value)

    return hash_luma


def _self_check(hash_luma: HashLuma) -> bool:
    import pdqhash

    rng = np.random.default_rng(20240607)
    img = rng.integers(0, 256, (96, 160, 3), dtype=np.uint8)
    img = np.cumsum(img.astype(np.int32), axis=1) % 256  # structure, not white noise
    img = np.ascontiguousarray(img.astype(np.uint8))
    luma = (img[:, :, 0] * 0.299 + img[:, :, 1] * 0.587 + img[:, :, 2] * 0.114).astype(np.float32)
    bits, quality = hash_luma(np.ascontiguousarray(luma))
    ref_bits, ref_quality = pdqhash.compute(img)
    return bits == np.packbits(np.asarray(ref_bits, np.uint8)).tobytes() and quality == ref_quality


def get_hash_luma() -> HashLuma | None:
    """The checked ctypes routine, or None when it cannot be used (see the module doc)."""
    global _resolved, _hash_luma
    if not _resolved:
        with _lock:
            if not _resolved:
                fn = _bind()
                try:
                    _hash_luma = fn if fn is not None and _self_check(fn) else None
                except Exception:  # noqa: BLE001 - any failure means: use pdqhash.compute
                    _hash_luma = None
                _resolved = True
    return _hash_luma
