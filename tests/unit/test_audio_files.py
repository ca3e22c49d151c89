"""Audio files: every format round-trips with its sample rate and duration; PCM is bit-exact."""

from __future__ import annotations

import numpy as np
import pytest

from engines.audio_files import AudioFormat, decode_audio, encode_audio, quantize_pcm16

RATE = 32000  # MusicGen's


def _tone(seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", [AudioFormat.WAV, AudioFormat.FLAC])
def test_lossless_round_trip_is_exact_to_16_bit(fmt: AudioFormat) -> None:
    samples = _tone()
    samples[:10] = [1.5, -1.5, 1.0, -1.0, 0.0, 1e-6, -1e-6, 0.25, -0.25, 0.999]  # clipping and edges
    data = encode_audio(samples, RATE, fmt)
    decoded, rate = decode_audio(data)
    assert rate == RATE
    assert decoded.dtype == np.float32 and decoded.shape == samples.shape
    np.testing.assert_array_equal(decoded, quantize_pcm16(samples).astype(np.float32) / 32768.0)


def test_mp3_round_trip_keeps_rate_and_duration() -> None:
    samples = _tone(1.5)
    data = encode_audio(samples, RATE, AudioFormat.MP3, bitrate_kbps=128)
    assert data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3")
    decoded, rate = decode_audio(data)
    assert rate == RATE
    assert abs(len(decoded) - len(samples)) <= 1152  # at most one MP3 frame of encoder padding
    n = min(len(decoded), len(samples))
    assert np.corrcoef(decoded[:n], samples[:n])[0, 1] > 0.99  # lossy, but the same signal, aligned


def test_mp3_bitrate_changes_the_size() -> None:
    samples = _tone(2.0)
    small = encode_audio(samples, RATE, AudioFormat.MP3, bitrate_kbps=64)
    large = encode_audio(samples, RATE, AudioFormat.MP3, bitrate_kbps=256)
    assert len(small) < len(large)


def test_mp3_at_a_rate_lame_cannot_take_is_resampled() -> None:
    decoded, rate = decode_audio(encode_audio(_tone(1.0, 22000), 22000, AudioFormat.MP3))
    assert rate == 48000
    assert abs(len(decoded) - 48000) <= 1152


def test_stereo_is_accepted_and_decoded_to_mono() -> None:
    tone = _tone(0.5)
    decoded, rate = decode_audio(encode_audio(np.stack([tone, tone], axis=1), RATE, AudioFormat.FLAC))
    assert rate == RATE and decoded.shape == tone.shape
    np.testing.assert_allclose(decoded, quantize_pcm16(tone) / 32768.0, atol=1e-4)


def test_format_facts() -> None:
    assert [(f.extension, f.content_type) for f in AudioFormat] == [
        (".wav", "audio/wav"),
        (".flac", "audio/flac"),
        (".mp3", "audio/mpeg"),
    ]
    assert AudioFormat("flac") is AudioFormat.FLAC


@pytest.mark.parametrize(
    "samples, rate",
    [
        (np.zeros(0, np.float32), RATE),
        (np.array([0.0, np.nan], np.float32), RATE),
        (np.zeros((10, 3), np.float32), RATE),
        (np.zeros(10, np.float32), 0),
    ],
)
def test_bad_input_is_a_value_error(samples: np.ndarray, rate: int) -> None:
    with pytest.raises(ValueError):
        encode_audio(samples, rate, AudioFormat.WAV)


def test_undecodable_bytes_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a decodable audio file|no audio"):
        decode_audio(b"definitely not audio" * 20)
