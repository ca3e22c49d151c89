"""Detection: normalise, fold, find the tile offset, read soft bits, Viterbi, CRC.

Pipeline for each candidate scale r (tile period Q = P * r image pixels):

1. Luminance Y; high-pass (Y minus a box blur) and divide by the local RMS of the
   high-pass.  This removes brightness changes, undoes contrast changes and the
   embedder's perceptual mask, and weights every area by ~1 / host activity.
2. Fold: sum the normalised image over all Q x Q tiles (cyclically, from the top-left
   corner of whatever image we got), then take its 2-D DFT F.  For a periodic mark this
   is exactly the full-image matched filter, and a crop only changes the cyclic offset.
3. Whitening: every band bin is weighted by 1 / (local mean of |F|^2), the matched
   filter for a Gaussian host with a slowly varying spectrum.
4. Sync: the correlation with the keyed sync template for *all* Q^2 cyclic offsets is one
   inverse FFT; the peak gives the offset d, its z-score (peak - mean) / std the sync
   strength.
5. Soft bits: undo the offset's phase ramp on the data bins and correlate each with its
   keyed phasor; sum per code bit.  Soft-decision Viterbi, remove the keyed mask, check
   the CRC-24.

False-positive probability (the decision rule)
-----------------------------------------------
A detection is reported only if, for one of at most H = S * K hypotheses (S = candidate
scales, at most ``max_candidate_scales`` = 4 with the default ladder; K = ``sync_peaks`` =
2 best sync offsets per scale), the sync z-score is >= ``sync_z_min`` AND the Viterbi
output passes the CRC-24 check.

On an unmarked image (or with a wrong key) the soft values carry no code word: model
them as i.i.d. symmetric (e.g. N(0, 1)).  The code is linear, so flipping the signs
along any code word leaves that distribution unchanged and maps the ML decision u to
u XOR u_c: the decoded info word is uniform over {0,1}^(n+24), and the
keyed mask keeps it uniform.  The CRC is a function of the first n bits, so a uniform
word passes with probability exactly 2^-24.  By the union bound over hypotheses

    P(false positive) <= H * 2^-24 = 8 * 5.96e-8 = 4.8e-7  <=  1e-6,

without even counting the sync test.  If one also treats the sync statistic as
independent of the data bins (disjoint DFT bins, so uncorrelated for a Gaussian host),
the max over Q^2 offsets of N(0, 1) exceeds z with probability <= Q^2 * Qfunc(z), giving
the per-detection ``p_value`` = H * 2^-24 * min(1, Q^2 * Qfunc(z)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from provenance.watermark import ecc, spreading
from provenance.watermark.frontend import (fold, normalise, soft_bits, sync_surface,
                                           whitened_spectrum)
from provenance.watermark.imaging import candidate_scales, luminance, max_candidate_scales
from provenance.watermark.params import WatermarkParams


@dataclass(frozen=True)
class Detection:
    found: bool
    payload: bytes | None
    score: float  # sync peak z-score of the chosen hypothesis
    confidence: float  # 1 - p_value when found, else 0
    bit_errors_corrected: int  # raw code-bit decisions the decoder overruled (found only)
    p_value: float  # false-positive estimate of this detection (1.0 when not found)
    false_positive_bound: float  # analytic bound of the decision rule, H * 2^-24
    scale: float = 0.0  # image pixels per canonical pixel of the chosen hypothesis
    offset: tuple[int, int] = (0, 0)  # (dy, dx) cyclic offset of the tiling
    # diagnostics for benchmarks: hard code-bit decisions and the decoder's (unchecked)
    # payload guess of the chosen hypothesis
    code_bits: np.ndarray | None = field(default=None, repr=False)
    decoded_payload: bytes | None = field(default=None, repr=False)


def qfunc(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def top_peaks(surface: np.ndarray, k: int, exclude: int) -> list[tuple[int, int, float]]:
    """The k highest values of a cyclic surface, each at least ``exclude`` px apart."""
    s = surface.copy()
    q = s.shape[0]
    peaks = []
    for _ in range(k):
        dy, dx = np.unravel_index(int(np.argmax(s)), s.shape)
        peaks.append((int(dy), int(dx), float(s[dy, dx])))
        ys = np.arange(dy - exclude, dy + exclude + 1) % q
        xs = np.arange(dx - exclude, dx + exclude + 1) % q
        s[np.ix_(ys, xs)] = -np.inf
    return peaks


def detect(img: np.ndarray, layout: spreading.Layout, info_mask: np.ndarray,
           payload_bytes: int, params: WatermarkParams) -> Detection:
    h, w = img.shape[:2]
    n_info = info_mask.size
    n_hyp = max_candidate_scales(params) * params.sync_peaks
    fp_bound = n_hyp * 2.0**-ecc.CRC_BITS
    y = luminance(img)
    scales = candidate_scales(h, w, params)
    x = normalise(y, scales[0], params)
    best = None  # (z, scale, dy, dx, soft, decoded) of the strongest sync peak
    for scale in scales:
        q = int(round(params.period * scale))
        spec = whitened_spectrum(fold(x, q), params.whiten_window)
        surface = sync_surface(spec, layout, q)
        for dy, dx, z in top_peaks(surface, params.sync_peaks, exclude=int(4 * scale)):
            if best is not None and z < params.sync_z_min and z <= best[0]:
                continue
            soft = soft_bits(spec, layout, q, dy, dx)
            decoded = ecc.viterbi_decode(soft, n_info) ^ info_mask
            if best is None or z > best[0]:
                best = (z, scale, dy, dx, soft, decoded)
            if z < params.sync_z_min:
                continue
            payload = ecc.check_info(decoded, payload_bytes)
            if payload is not None:
                recoded = ecc.conv_encode(decoded ^ info_mask)
                hard = (soft < 0).astype(np.uint8)
                errors = int(np.count_nonzero(hard != recoded))
                p = fp_bound * min(1.0, q * q * qfunc(z))
                return Detection(True, payload, z, 1.0 - p, errors, p, fp_bound, scale,
                                 (dy, dx), hard, payload)
    z, scale, dy, dx, soft, decoded = best
    guess = ecc.bits_to_bytes(decoded[: 8 * payload_bytes])
    return Detection(False, None, z, 0.0, 0, 1.0, fp_bound, scale, (dy, dx),
                     (soft < 0).astype(np.uint8), guess)
