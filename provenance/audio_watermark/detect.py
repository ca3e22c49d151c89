"""Detection: find the tile alignment, read soft bits, soft Viterbi, CRC-24.

Pipeline on the mid channel (mean of the channels) at 16 kHz:

1. For every sub-hop start offset o = 0, step, 2 * step, ... < hop (encoders add delay and
   padding, e.g. ~1100 samples for MP3), the STFT with frames at o + j * hop, its
   normalised log-magnitude (``frontend``) and the fold over tiles.
2. Sync: the correlation of each fold with the keyed sync template at every cyclic
   shift d.  Together these form one cyclic surface over the tile lag o + d * hop
   (tile_frames * hop / step values); its z-score is taken against the mean and standard
   deviation of the surface outside +-1 hop of the peak.
3. For the ``sync_peaks`` best lags (at least one hop apart): soft bits at that lag,
   soft Viterbi, remove the keyed mask, check the CRC-24.

False-positive probability (the decision rule)
-----------------------------------------------
A detection is reported only if, for one of at most H = ``sync_peaks`` hypotheses, the
sync z-score is >= ``sync_z_min`` AND the Viterbi output passes the CRC-24 check.  On
unmarked audio (or under another key) the soft values carry no code word: model them as
i.i.d. symmetric.  The convolutional code is linear, so the ML decision is uniform over
the info words and, with the keyed mask, the decoded word passes the CRC with
probability exactly 2^-24.  By the union bound

    P(false positive) <= H * 2^-24 = 2 * 5.96e-8 = 1.2e-7 per clip,

without counting the sync test.  Treating the sync statistic as an independent max over
the surface's L lags of N(0, 1) gives the per-detection ``p_value`` =
H * 2^-24 * min(1, L * Q(z)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from provenance.audio_watermark import frontend
from provenance.audio_watermark.layout import Layout
from provenance.audio_watermark.params import AudioWatermarkParams
from provenance.watermark import ecc


@dataclass(frozen=True)
class AudioDetection:
    found: bool
    payload: bytes | None  # the payload when found (CRC-checked), else None
    z_score: float  # sync peak z-score of the chosen alignment
    p_value: float  # false-positive estimate of this detection (1.0 when not found)
    confidence: float  # 1 - p_value when found, else 0.0
    false_positive_bound: float  # analytic bound of the decision rule, H * 2^-24
    lag: int = 0  # tile lag of the chosen alignment, samples at 16 kHz
    # diagnostics (benchmarks): soft and hard code-bit decisions and the decoder's
    # unchecked payload guess at the chosen alignment
    soft_bits: np.ndarray | None = field(default=None, repr=False)
    code_bits: np.ndarray | None = field(default=None, repr=False)
    decoded_payload: bytes | None = field(default=None, repr=False)


def qfunc(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def false_positive_bound(params: AudioWatermarkParams) -> float:
    return params.sync_peaks * 2.0 ** -ecc.CRC_BITS


def not_found(params: AudioWatermarkParams) -> AudioDetection:
    return AudioDetection(False, None, 0.0, 1.0, 0.0, false_positive_bound(params))


def decode_soft(soft: np.ndarray, info_mask: np.ndarray,
                payload_bytes: int) -> tuple[np.ndarray, bytes | None]:
    """Unmasked Viterbi decision of ``soft`` and the payload if its CRC-24 matches."""
    decoded = ecc.viterbi_decode(soft, info_mask.size) ^ info_mask
    return decoded, ecc.check_info(decoded, payload_bytes)


def _peaks(z: np.ndarray, k: int, exclude: int) -> list[int]:
    s = z.copy()
    out = []
    for _ in range(k):
        i = int(np.argmax(s))
        out.append(i)
        s[(np.arange(i - exclude, i + exclude + 1)) % s.size] = -np.inf
    return out


def detect(x16: np.ndarray, layout: Layout, info_mask: np.ndarray, payload_bytes: int,
           params: AudioWatermarkParams) -> AudioDetection:
    """Detect in a 1-D 16 kHz signal (see the module docstring for the rule)."""
    hop, step, tile = params.hop, params.offset_step, params.tile_frames
    if frontend.n_frames(x16.size, hop, params) < 2:
        return not_found(params)
    offsets = list(range(0, hop, step))
    folds, surface = [], np.empty((tile, len(offsets)))
    for i, o in enumerate(offsets):
        spec = frontend.stft(x16, o, params, layout.bin_lo, layout.bin_hi)
        folded = frontend.fold(frontend.normalised_logmag(spec, params), tile)
        folds.append(folded)
        surface[:, i] = frontend.sync_surface(folded, layout)
    lags = surface.reshape(-1)  # index d * n_off + i  <->  lag d * hop + offsets[i]
    n_off = len(offsets)
    best = None
    fp_bound = false_positive_bound(params)
    for peak in _peaks(lags, params.sync_peaks, exclude=n_off):
        away = np.ones(lags.size, bool)
        away[np.arange(peak - n_off, peak + n_off + 1) % lags.size] = False
        rest = lags[away]
        z = float((lags[peak] - rest.mean()) / (rest.std() + 1e-12))
        d, i = divmod(peak, n_off)
        soft = frontend.soft_bits(folds[i], layout, d)
        decoded, payload = decode_soft(soft, info_mask, payload_bytes)
        lag = d * hop + offsets[i]
        if best is None:
            best = (z, lag, soft, decoded)
        if payload is not None and z >= params.sync_z_min:
            p = fp_bound * min(1.0, lags.size * qfunc(z))
            return AudioDetection(True, payload, z, p, 1.0 - p, fp_bound, lag, soft,
                                  (soft < 0).astype(np.uint8), payload)
    z, lag, soft, decoded = best
    guess = ecc.bits_to_bytes(decoded[: 8 * payload_bytes])
    return AudioDetection(False, None, z, 1.0, 0.0, fp_bound, lag, soft,
                          (soft < 0).astype(np.uint8), guess)
