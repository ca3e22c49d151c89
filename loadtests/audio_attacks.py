"""Audio attacks for watermark robustness benchmarks (pure functions, float32 in and out).

Each takes ``(samples, sample_rate)`` (float32 in [-1, 1], shape (n,) or (n, channels)) and
returns float32 samples at the same rate and channel count.  Codec round trips run the
ffmpeg binary of the ``imageio-ffmpeg`` wheel (libmp3lame, ffmpeg's native AAC encoder)
through pipes; the decoded clip keeps the codec's delay and padding, as a real file would.
``ATTACKS`` maps a short name to a callable at the settings ``bench_audio_watermark`` uses.
"""

from __future__ import annotations

import functools
import subprocess
from typing import Callable

import numpy as np

Attack = Callable[[np.ndarray, int], np.ndarray]


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of imageio-ffmpeg's ffmpeg; RuntimeError with a hint when it is not installed."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise RuntimeError("audio attacks need imageio-ffmpeg: pip install imageio-ffmpeg") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def _channels(x: np.ndarray) -> int:
    return 1 if x.ndim == 1 else x.shape[1]


def _run(args: list[str], data: bytes) -> bytes:
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", *args],
                          input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {proc.stderr.decode(errors='replace')[-500:]}")
    return proc.stdout


def _raw_in(x: np.ndarray, rate: int) -> tuple[list[str], bytes]:
    pcm = np.clip(np.asarray(x, np.float32), -1.0, 1.0).tobytes()
    return ["-f", "f32le", "-ar", str(rate), "-ac", str(_channels(x)), "-i", "pipe:0"], pcm


def _decode(data: bytes, rate: int, channels: int, one_d: bool) -> np.ndarray:
    raw = _run(["-i", "pipe:0", "-f", "f32le", "-ar", str(rate), "-ac", str(channels), "pipe:1"], data)
    y = np.frombuffer(raw, np.float32).reshape(-1, channels)
    return np.ascontiguousarray(y[:, 0] if one_d else y)


def codec_round_trip(x: np.ndarray, rate: int, codec: str, fmt: str, bitrate_k: int) -> np.ndarray:
    """Encode with ffmpeg ``codec`` at ``bitrate_k`` kbit/s into ``fmt`` and decode back."""
    inp, pcm = _raw_in(x, rate)
    coded = _run([*inp, "-c:a", codec, "-b:a", f"{bitrate_k}k", "-f", fmt, "pipe:1"], pcm)
    return _decode(coded, rate, _channels(x), x.ndim == 1)


def mp3(x: np.ndarray, rate: int, bitrate_k: int = 128) -> np.ndarray:
    """MP3 (LAME, CBR) round trip."""
    return codec_round_trip(x, rate, "libmp3lame", "mp3", bitrate_k)


def aac(x: np.ndarray, rate: int, bitrate_k: int = 96) -> np.ndarray:
    """AAC-LC (ffmpeg's native encoder, ADTS) round trip."""
    return codec_round_trip(x, rate, "aac", "adts", bitrate_k)


def resample(x: np.ndarray, rate: int, via_rate: int = 16_000) -> np.ndarray:
    """Resample to ``via_rate`` and back with ffmpeg's resampler (swr), through 16-bit PCM."""
    inp, pcm = _raw_in(x, rate)
    low = _run([*inp, "-ar", str(via_rate), "-f", "s16le", "pipe:1"], pcm)
    raw = _run(["-f", "s16le", "-ar", str(via_rate), "-ac", str(_channels(x)), "-i", "pipe:0",
                "-ar", str(rate), "-f", "f32le", "pipe:1"], low)
    y = np.frombuffer(raw, np.float32).reshape(-1, _channels(x))
    return np.ascontiguousarray(y[:, 0] if x.ndim == 1 else y)


def white_noise(x: np.ndarray, rate: int, snr_db: float = 20.0, seed: int = 0) -> np.ndarray:
    """Add white Gaussian noise at ``snr_db`` against the clip's mean power."""
    x = np.asarray(x, np.float32)
    power = float(np.mean(x.astype(np.float64) ** 2))
    noise = np.random.default_rng(seed).standard_normal(x.shape) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(x + noise, -1.0, 1.0).astype(np.float32)


def trim(x: np.ndarray, rate: int, head_s: float = 0.37, tail_s: float = 0.21) -> np.ndarray:
    """Cut ``head_s`` seconds from the start and ``tail_s`` from the end."""
    return np.ascontiguousarray(x[int(head_s * rate): x.shape[0] - int(tail_s * rate)])


def crop(x: np.ndarray, rate: int, seconds: float = 3.0, start_fraction: float = 0.4) -> np.ndarray:
    """Keep a ``seconds`` window starting ``start_fraction`` of the way into the slack."""
    n = min(x.shape[0], int(seconds * rate))
    start = int((x.shape[0] - n) * start_fraction)
    return np.ascontiguousarray(x[start:start + n])


def volume(x: np.ndarray, rate: int, gain_db: float = -6.0) -> np.ndarray:
    """Scale by ``gain_db`` (clipped to [-1, 1])."""
    return np.clip(np.asarray(x, np.float32) * 10 ** (gain_db / 20), -1.0, 1.0).astype(np.float32)


ATTACKS: dict[str, Attack] = {
    "none": lambda x, r: np.asarray(x, np.float32),
    "mp3-128": lambda x, r: mp3(x, r, 128),
    "mp3-64": lambda x, r: mp3(x, r, 64),
    "aac-96": lambda x, r: aac(x, r, 96),
    "resample16k": lambda x, r: resample(x, r, 16_000),
    "noise20dB": lambda x, r: white_noise(x, r, 20.0),
    "trim": trim,
    "crop3s": lambda x, r: crop(x, r, 3.0),
    "volume-6dB": lambda x, r: volume(x, r, -6.0),
}
