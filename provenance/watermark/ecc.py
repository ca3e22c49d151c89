"""Channel code of the watermark: CRC-24 + rate-1/3 convolutional code, soft Viterbi.

Info word  = payload bits (48..64) || CRC-24(payload) (24 bits), XOR a keyed mask.
Code word  = rate-1/3, constraint length 7 convolutional code (generators 133, 171, 165
octal, the 3GPP / LTE set), terminated with 6 zero tail bits, so a 64-bit payload gives
(64 + 24 + 6) * 3 = 282 code bits.

Decoding is maximum-likelihood soft-decision Viterbi on the detector's real-valued
correlations (positive = bit 0).  Soft decisions are worth about 2 dB over hard-decision
BCH/Reed-Solomon at the same rate; with i.i.d. Gaussian soft values the code recovers
the info word down to roughly 13 % raw code-bit errors.  The CRC then tells a decoded
word from a random one (see ``detect.py`` for the false-positive bound).
"""

from __future__ import annotations

import numpy as np

CRC_BITS = 24
_CRC_POLY = 0x864CFB  # CRC-24/OpenPGP
_CRC_INIT = 0xB704CE

K = 7  # constraint length
MEMORY = K - 1
N_STATES = 1 << MEMORY
GENERATORS = (0o133, 0o171, 0o165)
RATE_INV = len(GENERATORS)


def crc24(data: bytes) -> int:
    crc = _CRC_INIT
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC_POLY
    return crc & 0xFFFFFF


def bytes_to_bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))


def bits_to_bytes(bits: np.ndarray) -> bytes:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def info_bits(payload: bytes) -> np.ndarray:
    """payload || CRC-24 as a bit vector (before the keyed mask)."""
    crc = crc24(payload).to_bytes(3, "big")
    return bytes_to_bits(payload + crc)


def check_info(bits: np.ndarray, payload_bytes: int) -> bytes | None:
    """Payload if the CRC of a decoded (unmasked) info word matches, else None."""
    raw = bits_to_bytes(bits)
    payload, crc = raw[:payload_bytes], raw[payload_bytes:]
    return payload if crc24(payload).to_bytes(3, "big") == crc else None


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """next_state[s, u] and output symbols out[s, u, j] in {+1, -1} (bit 0 -> +1)."""
    nxt = np.zeros((N_STATES, 2), dtype=np.int64)
    out = np.zeros((N_STATES, 2, RATE_INV), dtype=np.float32)
    for s in range(N_STATES):
        for u in range(2):
            reg = (u << MEMORY) | s
            nxt[s, u] = reg >> 1
            for j, g in enumerate(GENERATORS):
                bit = bin(reg & g).count("1") & 1
                out[s, u, j] = 1.0 - 2.0 * bit
    return nxt, out


_NEXT, _OUT = _tables()
# predecessors of each next state: ns = (u << 5) | (s >> 1)  =>  s = ((ns & 31) << 1) | b
_PRED = np.stack([((np.arange(N_STATES) & (N_STATES // 2 - 1)) << 1) | b for b in (0, 1)], axis=1)
_PRED_INPUT = np.arange(N_STATES) >> (MEMORY - 1)
# output symbols on the two branches into each next state: (N_STATES, 2, RATE_INV)
_PRED_OUT = _OUT[_PRED, _PRED_INPUT[:, None]]


def code_length(n_info: int) -> int:
    return (n_info + MEMORY) * RATE_INV


def conv_encode(bits: np.ndarray) -> np.ndarray:
    """Terminated rate-1/3 encoding of a 0/1 vector; returns 0/1 uint8 code bits."""
    u = np.concatenate([np.asarray(bits, dtype=np.uint8), np.zeros(MEMORY, dtype=np.uint8)])
    out = np.empty((u.size, RATE_INV), dtype=np.uint8)
    s = 0
    for t, bit in enumerate(u):
        out[t] = _OUT[s, bit] < 0
        s = _NEXT[s, bit]
    return out.reshape(-1)


def viterbi_decode(soft: np.ndarray, n_info: int) -> np.ndarray:
    """ML decoding of soft values (positive = bit 0) of a terminated code word.

    Returns the n_info decoded info bits (uint8 0/1).
    """
    steps = n_info + MEMORY
    y = np.asarray(soft, dtype=np.float32).reshape(steps, RATE_INV)
    neg_inf = np.float32(-1e30)
    metric = np.full(N_STATES, neg_inf, dtype=np.float32)
    metric[0] = 0.0
    choice = np.empty((steps, N_STATES), dtype=np.uint8)
    for t in range(steps):
        cand = metric[_PRED] + _PRED_OUT @ y[t]  # (N_STATES, 2)
        b = (cand[:, 1] > cand[:, 0]).astype(np.uint8)
        choice[t] = b
        metric = np.where(b, cand[:, 1], cand[:, 0])
        if t >= n_info:  # tail: only input 0 allowed
            metric[N_STATES // 2:] = neg_inf
    state = 0
    bits = np.empty(steps, dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[t] = state >> (MEMORY - 1)
        state = int(_PRED[state, choice[t, state]])
    return bits[:n_info]
