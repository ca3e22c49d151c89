"""Tunable parameters of the audio mark (one frozen dataclass; defaults are the tuned ones).

All sizes are at the canonical rate: every clip is analysed (and its mark synthesised) at
16 kHz, whatever its own rate, so one layout serves 16-48 kHz input and the mark survives
resampling to 16 kHz by construction (its band ends below 8 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass

CANONICAL_RATE = 16_000


@dataclass(frozen=True)
class AudioWatermarkParams:
    n_fft: int = 512  # STFT frame (32 ms at 16 kHz), sqrt-Hann, hop n_fft / 2
    f_lo: float = 1000.0  # marked band, Hz: survives MP3/AAC at 64-96 kbps and 16 kHz
    f_hi: float = 6000.0
    tile_frames: int = 64  # the pattern repeats every 64 hops = 1.024 s
    unit_frames: int = 1  # a chip covers unit_frames x unit_bins STFT cells (1 x 1 is best:
    unit_bins: int = 1  # a tonal host's log-magnitudes are correlated across neighbours)
    sync_fraction: float = 0.15  # share of a tile's chips that carry the keyed sync template
    snr_db: float = 25.5  # SNR of the mark against each whole channel (>= 25 dB promised)
    mask_gamma: float = 1.0  # relative change ~ (local RMS / |cell|) ** mask_gamma (embed.py)
    mask_freq: int = 9  # local-RMS window of the masking weight: bins ...
    mask_time: int = 3  # ... and frames
    mask_ceil: float = 4.0  # largest masking weight (quiet cells between partials)
    max_gain: float = 0.35  # cap on g (embed.py) when the SNR would allow more (audibility)
    bed_shortfall_db: float = 3.0  # add a carrier when the band's own change reaches this far below the SNR budget
    bed_depth: float = 0.6  # relative magnitude change of the carrier per unit of the pattern (embed.bed_16k)
    informed: bool = True  # host-interference-aware per-bit amplitudes (embed.py)
    informed_min: float = 0.3  # per-bit amplitude range, relative to 1
    informed_max: float = 3.0
    norm_time: int = 21  # detector: local-mean window along time (frames) ...
    norm_freq: int = 21  # ... and along frequency (bins)
    norm_clip: float = 2.5  # clip of the normalised log-magnitude (nats)
    floor_db: float = -60.0  # cells this far below the mean band power count as silence
    offset_step: int = 16  # sub-hop alignment search step, samples at 16 kHz
    sync_peaks: int = 2  # best alignments decoded (each is one hypothesis of the FP bound)
    sync_z_min: float = 4.0  # minimum sync z-score for a detection

    @property
    def hop(self) -> int:
        return self.n_fft // 2
