"""In-memory Hamming-radius index over 256-bit hashes (multi-index hashing).

    index = HammingIndex(m=16)
    index.add("rec-1", fp.bits)                       # or add_many(keys, (N, 32) uint8)
    index.search(query_bits, radius=31, limit=10)     # [Match(key, distance)], nearest first

Search is exact for every radius 0..256.  Multi-index hashing (Norouzi et al., 2012): the 256
bits are split into ``m`` substrings of ``b = 256 / m`` bits, and each substring has a table
of all entries sorted by its value.  If d(h, q) <= r with r = s * m + a (0 <= a < m), then
some substring j <= a is within s bits of q's, or some substring j > a is within s - 1 bits
(otherwise d >= (a + 1)(s + 1) + (m - a - 1) s = r + 1).  So the query probes every value
within s (or s - 1) bits of each of its substrings, collects the entries stored under those
values and verifies them with a vectorised popcount.  At m = 16, r = 31 that is 16 x 17
probes and, with 1,000,000 uniform hashes, ~4,000 candidates (~0.5 ms a lookup).  When the
probes would touch a sizeable share of the entries (at m = 16: radius >= 48 or so) a
chunked brute-force popcount scan is used instead (~5-10 ms per 1,000,000 entries).

Entries live in an immutable *segment* (hashes, their ids and the m sorted tables) plus a
small append buffer that is scanned by brute force; the buffer is merged into a new
segment when it passes ``max(buffer_size, len / 16)`` entries, and removed entries (tomb-
stones) are dropped by the same rebuild once they are a quarter of the segment.
Thread safety: one lock guards the mutable state; a search copies references to the
current (immutable) arrays under it and computes without it, so searches run concurrently
with each other and with adds; a rebuild is computed outside the lock and swapped in.
Memory: ~(2 x 32 + 4 m + 8) bytes per entry in numpy arrays (~136 MB at 1M, m = 16) plus
the Python key strings and the key -> id dict.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Sequence

import numpy as np

from provenance.fingerprint.pdq import HASH_BITS, HASH_BYTES, check_bits

_WORDS = HASH_BYTES // 8  # uint64 words per hash
_SUB_DTYPES = {4: np.uint64, 8: np.uint32, 16: np.uint16, 32: np.uint8}
_TABLE_MAX_BITS = 16  # substrings up to 16 bits use a direct bucket-offset table
_MAX_PROBES = 200_000  # above this many probes a brute-force scan is cheaper
_CANDIDATE_FRACTION = 0.05  # ... and above this share of candidates per entry, too
_SCAN_CHUNK = 1 << 16  # rows per brute-force chunk (keeps the temporaries in cache)


@dataclass(frozen=True)
class Match:
    key: str
    distance: int


@lru_cache(maxsize=64)
def _probe_masks(b: int, s: int) -> np.ndarray:
    """All b-bit values with at most s bits set (XOR masks to the probed neighbours)."""
    dtype = _SUB_DTYPES[HASH_BITS // b]
    out = [0]
    for k in range(1, s + 1):
        out.extend(sum(1 << i for i in c) for c in combinations(range(b), k))
    masks = np.array(out, dtype=dtype)
    masks.flags.writeable = False
    return masks


def _n_probes(b: int, s: int) -> int:
    return sum(math.comb(b, k) for k in range(s + 1)) if s >= 0 else 0


def _substring_radii(radius: int, m: int) -> list[int]:
    """Per-substring probe radius from the generalised pigeonhole bound (-1: skip)."""
    s, a = divmod(radius, m)
    return [s if j <= a else s - 1 for j in range(m)]


def _distances(cols: Sequence[np.ndarray], q: np.ndarray) -> np.ndarray:
    """Hamming distances (uint16) to ``q`` (4,) uint64 of the hashes whose k-th uint64 words
    are ``cols[k]`` (four equally long 1-D arrays, e.g. the columns of an (n, 4) array)."""
    d = np.bitwise_count(cols[0] ^ q[0]).astype(np.uint16)
    for k in range(1, _WORDS):
        d += np.bitwise_count(cols[k] ^ q[k])
    return d


def _scan(words_t: np.ndarray, q: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force over ``words_t`` (4, n) (or the transposed view of an (n, 4) array):
    (rows, distances) of the hashes within ``radius``."""
    rows, dists = [], []
    for lo in range(0, words_t.shape[1], _SCAN_CHUNK):
        d = _distances(words_t[:, lo:lo + _SCAN_CHUNK], q)
        hit = np.flatnonzero(d <= radius)
        if hit.size:
            rows.append(hit + lo)
            dists.append(d[hit])
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.uint16)
    return np.concatenate(rows), np.concatenate(dists)


class _Segment:
    """Immutable after construction: hashes (row-major for gathering candidates, word-major
    for scans), ids and the m per-substring sorted tables."""

    def __init__(self, words: np.ndarray, ids: np.ndarray, m: int):
        n = len(words)
        self.m, self.b, self.n = m, HASH_BITS // m, n
        self.words, self.ids = words, ids
        self.words_t = np.ascontiguousarray(words.T)  # (4, n): scans run ~2.5x faster
        subs = words.view(_SUB_DTYPES[m])  # (n, m): substring j of row i
        self.order = np.empty(m * n, np.int32)  # block j: rows sorted by substring j
        use_table = self.b <= _TABLE_MAX_BITS
        # table: block j's entries with substring value v are order[starts[j, v]:starts[j, v+1]]
        self.starts = np.empty((m, (1 << self.b) + 1), np.int64) if use_table else None
        self.values = None if use_table else np.empty((m, n), subs.dtype)  # sorted values
        for j in range(m):
            col = np.ascontiguousarray(subs[:, j])
            o = np.argsort(col, kind="stable")
            self.order[j * n:(j + 1) * n] = o
            if use_table:
                self.starts[j, 0] = j * n
                np.cumsum(np.bincount(col, minlength=1 << self.b), out=self.starts[j, 1:])
                self.starts[j, 1:] += j * n
            else:
                self.values[j] = col[o]
        for a in self._arrays():
            a.flags.writeable = False

    def _arrays(self) -> list[np.ndarray]:
        return [a for a in (self.words, self.words_t, self.ids, self.order, self.starts,
                            self.values) if a is not None]

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays())

    def plan(self, radius: int) -> tuple[list[int], bool]:
        """(per-substring radii, whether multi-index probing beats a scan)."""
        radii = _substring_radii(radius, self.m)
        probes = sum(_n_probes(self.b, s) for s in radii)
        expected = probes * self.n / 2.0 ** self.b  # candidates, for uniform hashes
        return radii, probes <= _MAX_PROBES and expected <= _CANDIDATE_FRACTION * self.n

    def search(self, q: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, distances) of all rows within ``radius`` of ``q`` (each row once)."""
        if self.n == 0:
            return np.empty(0, np.int64), np.empty(0, np.uint16)
        radii, use_mih = self.plan(radius)
        if not use_mih:
            return _scan(self.words_t, q, radius)
        qsub = q.view(_SUB_DTYPES[self.m])
        lo_parts, hi_parts = [], []
        for j, s in enumerate(radii):
            if s < 0:
                continue
            probe = qsub[j] ^ _probe_masks(self.b, s)
            if self.starts is not None:
                p = probe.astype(np.int64)
                lo_parts.append(self.starts[j, p])
                hi_parts.append(self.starts[j, p + 1])
            else:
                vals = self.values[j]
                lo_parts.append(np.searchsorted(vals, probe, "left") + j * self.n)
                hi_parts.append(np.searchsorted(vals, probe, "right") + j * self.n)
        lo, hi = np.concatenate(lo_parts), np.concatenate(hi_parts)
        lens = hi - lo
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, np.int64), np.empty(0, np.uint16)
        # positions lo[k] .. hi[k] - 1 for every probe k, in one vectorised gather
        nz = lens > 0
        lo, lens = lo[nz], lens[nz]
        pos = np.repeat(lo - (np.cumsum(lens) - lens), lens) + np.arange(total)
        cand = self.order[pos]
        d = _distances(self.words[cand].T, q)
        hit = d <= radius
        rows, first = np.unique(cand[hit], return_index=True)
        return rows.astype(np.int64), d[hit][first]


class HammingIndex:
    """Exact Hamming-radius search over 256-bit hashes by string key (see the module doc).

    ``m``: number of substrings (4, 8, 16 or 32; 16 suits 10^5..10^7 entries).
    ``buffer_size``: adds are buffered (brute-force scanned) until the buffer holds
    ``max(buffer_size, len / 16)`` entries, then merged into the multi-index segment."""

    def __init__(self, m: int = 16, *, buffer_size: int = 4096):
        if m not in _SUB_DTYPES:
            raise ValueError(f"m must be one of {sorted(_SUB_DTYPES)} (substrings of "
                             f"{[HASH_BITS // k for k in sorted(_SUB_DTYPES)]} bits), got {m!r}")
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
            raise ValueError(f"buffer_size must be a positive int, got {buffer_size!r}")
        self.m = m
        self.buffer_size = buffer_size
        self._lock = threading.Lock()
        self._segment = _Segment(np.empty((0, _WORDS), np.uint64), np.empty(0, np.int64), m)
        self._buf_words = np.empty((0, _WORDS), np.uint64)  # rows [0, _buf_n) are in use
        self._buf_ids = np.empty(0, np.int64)
        self._buf_n = 0
        self._dead = np.zeros(0, np.uint8)  # by id: 1 once removed
        self._keys: list[str | None] = []  # by id (None once removed)
        self._id_of: dict[str, int] = {}
        self._tombstones = 0  # removed entries still stored in the segment or buffer
        self._merging = False

    # ------------------------------------------------------------------ size

    def __len__(self) -> int:
        return len(self._id_of)

    def __contains__(self, key: object) -> bool:
        return key in self._id_of

    def nbytes(self) -> int:
        """Bytes held in numpy arrays (excludes the key strings and the key dict)."""
        with self._lock:
            return (self._segment.nbytes() + self._buf_words.nbytes + self._buf_ids.nbytes
                    + self._dead.nbytes)

    # ------------------------------------------------------------------ mutation

    def add(self, key: str, bits: bytes) -> None:
        """Add one hash under a new ``key`` (ValueError if the key is present)."""
        words = np.frombuffer(check_bits(bits), np.uint64).reshape(1, _WORDS)
        self._append([_check_key(key)], words)

    def add_many(self, keys: Sequence[str], bits_array: np.ndarray) -> None:
        """Add N hashes: ``keys`` (N new, distinct str) and ``bits_array`` (N, 32) uint8."""
        if not isinstance(bits_array, np.ndarray):
            raise TypeError(f"bits_array must be a numpy array, got {type(bits_array).__name__}")
        if (bits_array.dtype != np.uint8 or bits_array.ndim != 2
                or bits_array.shape[1] != HASH_BYTES):
            raise ValueError(f"bits_array must be uint8 with shape (N, {HASH_BYTES}), got "
                             f"{bits_array.dtype} {bits_array.shape}")
        keys = [_check_key(k) for k in keys]
        if len(keys) != len(bits_array):
            raise ValueError(f"got {len(keys)} keys for {len(bits_array)} hashes")
        if len(set(keys)) != len(keys):
            raise ValueError("keys must be distinct")
        if keys:
            self._append(keys, np.ascontiguousarray(bits_array).view(np.uint64))

    def remove(self, key: str) -> None:
        """Remove ``key`` (KeyError if absent)."""
        with self._lock:
            try:
                i = self._id_of.pop(key)
            except KeyError:
                raise KeyError(f"no entry with key {key!r}") from None
            self._dead[i] = 1
            self._keys[i] = None
            self._tombstones += 1
        self._maybe_merge()

    def _append(self, keys: list[str], words: np.ndarray) -> None:
        k = len(keys)
        with self._lock:
            present = [key for key in keys if key in self._id_of]
            if present:
                raise ValueError(f"{len(present)} key(s) already present, e.g. {present[0]!r}; "
                                 "remove them first")
            first = len(self._keys)
            ids = np.arange(first, first + k, dtype=np.int64)
            n = self._buf_n
            if n + k > len(self._buf_words):  # grow (new arrays: searches keep the old ones)
                cap = max(n + k, 2 * len(self._buf_words), 256)
                self._buf_words = _grown(self._buf_words, n, cap)
                self._buf_ids = _grown(self._buf_ids, n, cap)
            self._buf_words[n:n + k] = words
            self._buf_ids[n:n + k] = ids
            if first + k > len(self._dead):
                self._dead = _grown(self._dead, first, max(first + k, 2 * len(self._dead), 256))
            self._dead[first:first + k] = 0
            self._keys.extend(keys)
            self._id_of.update(zip(keys, range(first, first + k)))
            self._buf_n = n + k  # publish last: searches read rows [0, _buf_n)
        self._maybe_merge()

    def _needs_merge(self) -> bool:
        seg_n = self._segment.n
        return (self._buf_n > max(self.buffer_size, seg_n // 16)
                or self._tombstones > max(self.buffer_size, (seg_n + self._buf_n) // 4))

    def _maybe_merge(self) -> None:
        """Rebuild the segment from the live entries of segment + buffer, outside the lock."""
        with self._lock:
            if self._merging or not self._needs_merge():
                return
            self._merging = True
            seg, k = self._segment, self._buf_n
            buf_words, buf_ids, dead = self._buf_words, self._buf_ids, self._dead
        try:
            words = np.concatenate([seg.words, buf_words[:k]])  # (n, 4) row-major
            ids = np.concatenate([seg.ids, buf_ids[:k]])
            live = np.flatnonzero(dead[ids] == 0)  # later removals: tombstones of the new one
            if len(live) < len(ids):
                words, ids = words.take(live, axis=0), ids[live]
            new = _Segment(words, ids, self.m)
            with self._lock:
                rest = self._buf_n - k  # added while we built
                cap = max(rest, 256)
                bw, bi = np.empty((cap, _WORDS), np.uint64), np.empty(cap, np.int64)
                bw[:rest] = self._buf_words[k:self._buf_n]
                bi[:rest] = self._buf_ids[k:self._buf_n]
                self._segment, self._buf_words, self._buf_ids, self._buf_n = new, bw, bi, rest
                self._tombstones = int(self._dead[new.ids].sum() + self._dead[bi[:rest]].sum())
        finally:
            with self._lock:
                self._merging = False

    # ------------------------------------------------------------------ search

    def search(self, bits: bytes, radius: int = 31, limit: int | None = 10) -> list[Match]:
        """Entries within ``radius`` bits of ``bits``, nearest first (ties: oldest first),
        at most ``limit`` of them (None: all)."""
        q = np.frombuffer(check_bits(bits), np.uint64)
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or not (
                0 <= radius <= HASH_BITS):
            raise ValueError(f"radius must be an int from 0 to {HASH_BITS}, got {radius!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ValueError(f"limit must be a positive int or None, got {limit!r}")
        radius = int(radius)
        with self._lock:
            seg, n = self._segment, self._buf_n
            buf_words, buf_ids, dead = self._buf_words, self._buf_ids, self._dead
        rows, d_seg = seg.search(q, radius)
        brows, d_buf = _scan(buf_words[:n].T, q, radius)
        ids = np.concatenate([seg.ids[rows], buf_ids[brows]])
        dists = np.concatenate([d_seg, d_buf])
        live = dead[ids] == 0
        ids, dists = ids[live], dists[live]
        out: list[Match] = []
        for i in np.lexsort((ids, dists)):
            key = self._keys[ids[i]]
            if key is not None:  # None: removed since the snapshot
                out.append(Match(key, int(dists[i])))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def uses_multi_index(self, radius: int) -> bool:
        """Whether a search at ``radius`` probes the tables (else it scans all entries)."""
        return self._segment.plan(radius)[1]


def _check_key(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, got {type(key).__name__}")
    if not key:
        raise ValueError("key must be a non-empty str")
    return key


def _grown(a: np.ndarray, n: int, cap: int) -> np.ndarray:
    out = np.zeros((cap,) + a.shape[1:], a.dtype)
    out[:n] = a[:n]
    return out
