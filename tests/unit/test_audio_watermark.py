"""Keyed audio watermark (provenance.audio_watermark): round trips, SNR, codecs, keys,
false positives, input validation.  Short synthetic clips (3-4 s); speech needs espeak-ng."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from scipy.signal import resample_poly

from loadtests import audio_attacks as atk
from loadtests.bench_audio_watermark import espeak_available, music_clip, speech_clip
from provenance.audio_watermark import MIN_DURATION_S, AudioDetection, AudioWatermarker, UnmarkableAudio
from provenance.records.hmac import watermark_payload

KEY = b"unit-test-audio-watermark-key-0123"
OTHER_KEY = b"another-audio-watermark-key-98765"
PAYLOAD = bytes.fromhex("c0ffee42")
RATE = 32_000


def noise_clip(seconds: float, seed: int, rate: int = RATE, tilt: float = 0.5) -> np.ndarray:
    """Coloured noise (power ~ 1 / f^tilt), like what a random-weight generator makes."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    spec = np.fft.rfft(rng.standard_normal(n)) / np.maximum(np.fft.rfftfreq(n, 1 / rate), 50) ** (tilt / 2)
    x = np.fft.irfft(spec, n)
    return (0.1 * x / x.std()).astype(np.float32)


def snr_db(x: np.ndarray, y: np.ndarray) -> float:
    x = x.astype(np.float64)
    return 10 * np.log10(np.sum(x ** 2) / np.sum((y.astype(np.float64) - x) ** 2))


@pytest.fixture(scope="module")
def wm() -> AudioWatermarker:
    return AudioWatermarker(KEY)


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    return music_clip(4.0, seed=3)


@pytest.fixture(scope="module")
def marked_music(wm, music) -> np.ndarray:
    return wm.embed(music, RATE, PAYLOAD)


def assert_found(det: AudioDetection, payload: bytes = PAYLOAD) -> None:
    assert det.found, f"not found (z={det.z_score:.2f})"
    assert det.payload == payload
    assert det.p_value <= det.false_positive_bound


@pytest.mark.parametrize("kind", ["music", "noise", "speech"])
def test_round_trip_and_snr(wm, kind):
    if kind == "speech" and not espeak_available():
        pytest.fail("espeak-ng not installed: run scripts/install_system_deps.sh (Debian package espeak-ng)")
    x = {"music": lambda: music_clip(3.0, seed=11), "noise": lambda: noise_clip(3.0, seed=12),
         "speech": lambda: speech_clip(3.0, seed=13)}[kind]()
    y = wm.embed(x, RATE, PAYLOAD)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y).max() <= 1.0
    assert snr_db(x, y) >= 25.0
    assert_found(wm.detect(y, RATE))


def test_marked_music_snr(music, marked_music):
    assert 25.0 <= snr_db(music, marked_music) < 27.0


def test_survives_mp3_128(wm, marked_music):
    assert_found(wm.detect(atk.mp3(marked_music, RATE, 128), RATE))


def test_survives_resampling_to_16k(wm, marked_music):
    assert_found(wm.detect(atk.resample(marked_music, RATE, 16_000), RATE))


def test_survives_trim_and_volume(wm, marked_music):
    assert_found(wm.detect(atk.trim(marked_music, RATE, 0.37, 0.21), RATE))
    assert_found(wm.detect(atk.volume(marked_music, RATE, -6.0), RATE))


def band_poor_clip(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Noise with 99.9 % of its power above 7 kHz and a loudness that swells and fades, like the
    output of a random-weight MusicGen: too little in 1-6 kHz to carry the mark by itself."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spec *= np.where(freqs > 7000, 1.0, 0.03)
    x = np.fft.irfft(spec, n) * (1.2 + np.sin(2 * np.pi * 0.7 * np.arange(n) / rate))
    return (0.1 * x / x.std()).astype(np.float32)


def test_band_poor_audio_gets_a_carrier_that_survives_noise(wm):
    x = band_poor_clip(6.0, seed=41)
    freqs = np.fft.rfftfreq(x.size, 1 / RATE)
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    assert power[(freqs >= 1000) & (freqs <= 6000)].sum() / power.sum() < 0.002
    y = wm.embed(x, RATE, PAYLOAD)
    assert 25.0 <= snr_db(x, y) < 27.0  # the carrier fills the SNR budget, no more
    assert_found(wm.detect(y, RATE))
    for seed in (1, 2):
        assert_found(wm.detect(atk.white_noise(y, RATE, 20.0, seed=seed), RATE))
    quiet = x.copy()
    quiet[: RATE] = 0.0  # silence stays silent: the carrier follows the host's loudness
    assert np.abs(wm.embed(quiet, RATE, PAYLOAD)[: RATE // 2]).max() == 0.0


def test_no_detection_on_unmarked_audio(wm, music):
    clips = [music, noise_clip(4.0, seed=21), noise_clip(3.0, seed=22, tilt=1.5),
             np.zeros(RATE * 3, np.float32)]
    for x in clips:
        det = wm.detect(x, RATE)
        assert not det.found and det.payload is None and det.p_value == 1.0


def test_wrong_key_does_not_detect(marked_music):
    assert not AudioWatermarker(OTHER_KEY).detect(marked_music, RATE).found


def test_one_second_clip_is_marked(wm):
    assert MIN_DURATION_S == 1.0  # the API's shortest clip (AudioRequest.duration_s)
    y = wm.embed(music_clip(1.0, seed=51), RATE, PAYLOAD)
    assert_found(wm.detect(y, RATE))
    assert_found(wm.detect(atk.mp3(y, RATE, 128), RATE))


def test_too_short_clip_is_refused(wm):
    with pytest.raises(ValueError, match="samples") as err:
        wm.embed(music_clip(MIN_DURATION_S - 0.1, seed=1), RATE, PAYLOAD)
    assert str(MIN_DURATION_S) in str(err.value)


def test_silent_clip_is_refused_not_returned_unmarked(wm):
    with pytest.raises(UnmarkableAudio, match="samples"):
        wm.embed(np.zeros(RATE * 3, np.float32), RATE, PAYLOAD)


def test_stereo_44k1(wm):
    x = music_clip(3.0, seed=31, rate=44_100, channels=2)
    y = wm.embed(x, 44_100, PAYLOAD)
    assert y.shape == x.shape and y.dtype == np.float32
    assert min(snr_db(x[:, c], y[:, c]) for c in range(2)) >= 25.0
    assert_found(wm.detect(y, 44_100))
    assert_found(wm.detect(np.ascontiguousarray(y[:, 1]), 44_100))  # each channel is marked


@pytest.mark.parametrize("rate", [16_000, 48_000])
def test_other_sample_rates(wm, rate):
    x = noise_clip(3.0, seed=rate, rate=rate)
    assert_found(wm.detect(wm.embed(x, rate, PAYLOAD), rate))


def test_detect_reads_a_96k_copy(wm, marked_music):
    x96 = resample_poly(marked_music.astype(np.float64), 3, 1).astype(np.float32)
    assert_found(wm.detect(x96, 96_000))


def test_int16_input(wm):
    x = (music_clip(3.0, seed=41) * 32767).astype(np.int16)
    y = wm.embed(x, RATE, PAYLOAD)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert snr_db(x / 32768.0, y) >= 25.0
    assert_found(wm.detect(y, RATE))
    assert_found(wm.detect((y * 32767).astype(np.int16), RATE))


def test_record_payload_round_trip(wm):
    payload = watermark_payload(b"record-key-0123456789abcdef", str(uuid.uuid4()), 0, nbytes=4)
    y = wm.embed(noise_clip(3.0, seed=51), RATE, payload)
    assert_found(wm.detect(y, RATE), payload)


def test_code_uses_the_image_ecc(wm):
    assert wm.code_bits(PAYLOAD).size == (32 + 24 + 6) * 3
    assert AudioWatermarker(KEY, payload_bytes=8).code_bits(bytes(8)).size == (64 + 24 + 6) * 3


def test_false_positive_bound(wm):
    assert wm.detect(np.zeros(RATE, np.float32), RATE).false_positive_bound <= 2e-7


@pytest.mark.parametrize("bad, exc, field", [
    (dict(sample_rate=8_000), ValueError, "sample_rate"),
    (dict(sample_rate=96_000), ValueError, "sample_rate"),
    (dict(payload=b"abc"), ValueError, "payload"),
    (dict(payload="abcd"), TypeError, "payload"),
    (dict(samples=np.zeros((RATE * 3, 2, 2), np.float32)), ValueError, "samples"),
    (dict(samples=np.zeros(RATE * 3, np.int32)), TypeError, "samples"),
    (dict(samples=np.full(RATE * 3, np.nan, np.float32)), ValueError, "samples"),
])
def test_invalid_inputs_name_the_field(wm, bad, exc, field):
    args = dict(samples=noise_clip(3.0, seed=1), sample_rate=RATE, payload=PAYLOAD) | bad
    with pytest.raises(exc, match=field):
        wm.embed(args["samples"], args["sample_rate"], args["payload"])


def test_invalid_construction():
    with pytest.raises(ValueError, match="payload_bytes"):
        AudioWatermarker(KEY, payload_bytes=3)
    with pytest.raises(ValueError, match="key"):
        AudioWatermarker(b"short")
