"""Embedding: a keyed multiplicative change of STFT magnitudes in the band, at a fixed SNR.

For one channel at 16 kHz with STFT X (frames at j * hop):

    D[j, f] = sync[j mod P, f] + a_k * s_k * chips[j mod P, f]       (k = bit_of the cell)
    M[j, f] = min(mask_ceil, local RMS |X| / |X[j, f]|)              (masking_weight)
    residual = ISTFT(X * clip(g * D * M, +-MAX_CHANGE))   (magnitudes scaled by 1 + g D M)

s_k = +1 for code bit 0 and -1 for code bit 1; the pattern repeats every tile of P frames,
so every whole tile carries the full code word.  The mark's magnitude follows the local
(9 bins x 3 frames) loudness, not each cell's: the detector reads log-magnitudes, where a
quiet cell between partials is worth as much as a loud one, and the neighbourhood masks
the change; in silence it is nothing.  g sets the SNR against the whole channel at its own
rate (``snr_db``), capped at ``max_gain`` (content with little in the band gets a higher
SNR, not a louder relative change).

Informed amplitudes: the host's own projection c_k onto bit k's chips (what the detector
would read without a mark) either helps or fights the bit.  Per-bit amplitudes a_k are
set so that every bit reaches the same margin T = sqrt(m^2 - sigma^2) (m: the mark's mean
response, sigma: the spread of c_k), clipped to [informed_min, informed_max]; then g is
re-solved for the SNR, so the total power stays the same.  The response of the mark is
measured, not modelled: the marked signal goes through the detector's front end.

Content with almost nothing in the band (e.g. a random-weight MusicGen puts 99.8 % of its power
above 6 kHz) cannot carry the mark multiplicatively at any audible-safe depth: added noise at
20 dB SNR would be twice the band's whole power.  There the rest of the SNR budget goes to a
carrier, ``bed_16k``: band-limited noise whose magnitudes carry the same pattern, following the
host's loudness frame by frame (nothing in silence).  The total stays at ``snr_db``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from provenance.audio_watermark import frontend
from provenance.audio_watermark.layout import Layout
from provenance.audio_watermark.params import AudioWatermarkParams

MAX_CHANGE = 0.7  # |g * D| cap: the band's magnitudes stay within x0.3 .. x1.7


def pattern(n_frames: int, layout: Layout, bit_sign: np.ndarray, amp: np.ndarray) -> np.ndarray:
    """(n_frames, bins) relative change D for per-bit signs and amplitudes, tiled in time."""
    per_bit = np.concatenate([bit_sign * amp, [0.0]])  # index -1 -> 0
    tile = layout.sync + layout.chips * per_bit[layout.bit_of]
    reps = -(-n_frames // tile.shape[0])
    return np.tile(tile, (reps, 1))[:n_frames]


def masking_weight(spec: np.ndarray, params: AudioWatermarkParams) -> np.ndarray:
    """Relative change allowed per cell: (local RMS magnitude / |X|) ** mask_gamma, capped.

    The local RMS (over ``mask_freq`` bins x ``mask_time`` frames) stands in for the masking
    threshold: the mark's magnitude follows the neighbourhood's loudness rather than each
    cell's, so quiet cells between partials get a larger relative change (they are worth as
    much to the log-magnitude detector) while the mark stays under the neighbours' level."""
    if params.mask_gamma == 0:
        return np.ones(spec.shape)
    power = np.abs(spec) ** 2
    local = uniform_filter1d(uniform_filter1d(power, params.mask_freq, axis=1, mode="nearest"),
                             params.mask_time, axis=0, mode="nearest")
    floor = float(power.mean()) * 10.0 ** (params.floor_db / 10.0) + 1e-30
    ratio = np.sqrt((local + floor) / (power + floor))
    return np.minimum(ratio ** params.mask_gamma, params.mask_ceil)


def aligned_soft_bits(x16: np.ndarray, layout: Layout, params: AudioWatermarkParams) -> np.ndarray:
    """Soft code bits of a 16 kHz signal read on the embedding grid (no alignment search)."""
    spec = frontend.stft(x16, 0, params, layout.bin_lo, layout.bin_hi)
    folded = frontend.fold(frontend.normalised_logmag(spec, params), params.tile_frames)
    return frontend.soft_bits(folded, layout, 0)


def loudness_envelope(x16: np.ndarray, params: AudioWatermarkParams) -> np.ndarray:
    """(frames,) RMS magnitude of each STFT frame of ``x16`` over all bins, smoothed over 3 frames:
    the level the carrier follows (0 in silence)."""
    full = frontend.stft(x16, 0, params)
    return np.sqrt(uniform_filter1d(np.mean(np.abs(full) ** 2, axis=1), 3, mode="nearest"))


def bed_16k(env: np.ndarray, n_samples: int, layout: Layout, sign: np.ndarray, amp: np.ndarray,
            params: AudioWatermarkParams) -> np.ndarray:
    """A carrier for content with (almost) nothing in the band, unit power before scaling: noise in
    the band whose STFT magnitudes are env[j] * (1 + bed_depth * D[j, f]) with a fixed random phase,
    ``env`` being the host's ``loudness_envelope``.  Zeros for a silent host."""
    frames = env.shape[0]
    if frames == 0:
        return np.zeros(n_samples)
    d = pattern(frames, layout, sign, amp)
    mag = env[:, None] * np.clip(1.0 + params.bed_depth * d, 1.0 - MAX_CHANGE, 1.0 + MAX_CHANGE)
    phase = np.random.default_rng(0x6D61726B).uniform(0.0, 2.0 * np.pi, size=mag.shape)
    bed = frontend.istft(mag * np.exp(1j * phase), n_samples, params, layout.bin_lo)
    p = float(np.mean(bed ** 2))
    return bed / np.sqrt(p) if p > 0.0 else bed


def residual_16k(x16: np.ndarray, power: float, layout: Layout, code_bits: np.ndarray,
                 params: AudioWatermarkParams) -> np.ndarray:
    """The mark for one 16 kHz channel (same length), at SNR ``snr_db`` against ``power``
    (the mean-square of the channel at its own rate).  All zeros for a silent channel.

    When the change of the host's own band falls short of that power by more than
    ``bed_shortfall_db`` (content with almost nothing in 1-6 kHz: the mark would sit far below
    any added noise), a carrier (``bed_16k``) fills the rest of the power budget."""
    spec = frontend.stft(x16, 0, params, layout.bin_lo, layout.bin_hi)
    frames = spec.shape[0]
    rel = masking_weight(spec, params)
    shaped = spec * rel
    sign = 1.0 - 2.0 * code_bits.astype(np.float64)
    amp = np.ones(layout.n_code)
    target_power = power * 10.0 ** (-params.snr_db / 10.0)

    def modulation(amp: np.ndarray) -> np.ndarray:
        d = pattern(frames, layout, sign, amp)
        unit = frontend.istft(shaped * d, x16.size, params, layout.bin_lo)
        unit_power = float(np.mean(unit ** 2))
        if unit_power <= 0.0 or power <= 0.0:
            return np.zeros_like(x16)
        g = min(np.sqrt(target_power / unit_power), params.max_gain)
        change = np.clip(g * d * rel, -MAX_CHANGE, MAX_CHANGE)
        res = frontend.istft(spec * change, x16.size, params, layout.bin_lo)
        actual = float(np.mean(res ** 2))
        if g < params.max_gain and actual > 0.0:  # the clip above lowered the power: restore it
            res *= min(np.sqrt(target_power / actual), 1.2)
        return res

    res = modulation(amp)
    reached = float(np.mean(res ** 2))
    env = None  # the carrier's envelope, when it is needed
    if power > 0.0 and reached < target_power * 10.0 ** (-params.bed_shortfall_db / 10.0):
        bed_scale = np.sqrt(target_power - reached)
        env = loudness_envelope(x16, params)
        res = res + bed_scale * bed_16k(env, x16.size, layout, sign, amp, params)

    def synthesise(amp: np.ndarray) -> np.ndarray:
        res = modulation(amp)
        if env is not None:
            res = res + bed_scale * bed_16k(env, x16.size, layout, sign, amp, params)
        return res

    if params.informed and np.any(res):
        host = aligned_soft_bits(x16, layout, params)
        response = sign * (aligned_soft_bits(x16 + res, layout, params) - host)
        m = float(np.median(response))
        if m > 0:
            sigma = float(np.sqrt(np.mean(host ** 2)))
            margin = np.sqrt(max(m * m - sigma * sigma, 0.25 * m * m))
            need = (margin - sign * host) / np.maximum(response, 0.25 * m)
            amp = np.clip(need, params.informed_min, params.informed_max)
            res = synthesise(amp)
    return res
