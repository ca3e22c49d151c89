"""Perceptual fingerprints of released images and their Hamming-radius index.

    fp = fingerprint(rgb_uint8)                     # Fingerprint(bits: 32 bytes, quality)
    index = HammingIndex()                          # exact radius search, 1M+ entries
    index.add(record_id, fp.bits)
    index.search(fingerprint(suspect).bits, radius=MATCH_THRESHOLD)   # [Match(key, distance)]

A fingerprint answers "did we make this?" when the invisible watermark is gone: it
survives re-encoding, scaling and colour edits, but not large crops (see ``pdq``).

Modules: ``pdq`` (PDQ hash, hex helpers, Hamming distance, the match threshold),
``native`` (ctypes binding to pdqhash's C++ routine, with fallback), ``index``
(multi-index-hashing Hamming index), ``video`` (one PDQ hash per second of a video),
``audio`` (Haitsma-Kalker audio fingerprints, matched by bit error rate).  Plain library: no Ray.
"""

from __future__ import annotations

from provenance.fingerprint.index import HammingIndex, Match
from provenance.fingerprint.pdq import (HASH_BITS, HASH_BYTES, MATCH_THRESHOLD, MIN_QUALITY,
                                        Fingerprint, fingerprint, from_hex, hamming, to_hex)

__all__ = ["HASH_BITS", "HASH_BYTES", "MATCH_THRESHOLD", "MIN_QUALITY", "Fingerprint",
           "HammingIndex", "Match", "fingerprint", "from_hex", "hamming", "to_hex"]
