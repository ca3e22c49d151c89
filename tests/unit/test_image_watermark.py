"""Keyed invisible image watermark (provenance.watermark): round trips, attacks, keys,
false positives, input validation.  Synthetic images only (no scikit-image needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from loadtests import watermark_attacks as atk
from provenance.watermark import Detection, ImageWatermarker, ecc

KEY = b"unit-test-watermark-key-0123456789"
OTHER_KEY = b"another-watermark-key-9876543210!!"
PAYLOAD = bytes.fromhex("0123456789abcdef")


def natural_like(h: int, w: int, seed: int) -> np.ndarray:
    """Colour 1/f noise with a few flat shapes: texture and flat areas, like a photo."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        spec = np.fft.fft2(rng.standard_normal((h, w))) / radius**1.1
        spec[0, 0] = 0
        t = np.real(np.fft.ifft2(spec))
        img[..., c] = 120 + 40 * t / t.std()
    img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))
    for _ in range(4):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        cv2.circle(img, (x, y), int(rng.integers(20, 80)),
                   tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
    return img


@pytest.fixture(scope="module")
def wm() -> ImageWatermarker:
    return ImageWatermarker(KEY)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_like(512, 512, seed=1)


@pytest.fixture(scope="module")
def marked(wm, image) -> np.ndarray:
    return wm.embed(image, PAYLOAD)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2))


@pytest.mark.parametrize("shape", [(512, 512), (768, 1024)])
def test_round_trip_two_sizes(wm, shape):
    img = natural_like(*shape, seed=shape[1])
    out = wm.embed(img, PAYLOAD)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert psnr(out, img) >= 40.0
    det = wm.detect(out)
    assert isinstance(det, Detection)
    assert det.found and det.payload == PAYLOAD
    assert det.p_value <= det.false_positive_bound <= 1e-6
    assert det.score > 6.0 and 0.99 < det.confidence <= 1.0


def test_mark_is_luminance_only(image, marked):
    def chroma(x):
        return cv2.cvtColor(x, cv2.COLOR_RGB2YCrCb)[..., 1:].astype(np.int16)

    # same delta on R, G and B: Cb/Cr move only by rounding (and clipping at 0/255)
    assert np.mean(np.abs(chroma(marked) - chroma(image)) <= 1) > 0.99


def test_embed_is_deterministic_and_payload_dependent(wm, image, marked):
    assert np.array_equal(wm.embed(image, PAYLOAD), marked)
    other = bytes(8)
    det = wm.detect(wm.embed(image, other))
    assert det.found and det.payload == other


@pytest.mark.parametrize("attack", [
    lambda m: atk.jpeg(m, 75),
    lambda m: atk.jpeg(m, 50),
    lambda m: atk.resize_back(m, 0.5),
    lambda m: atk.crop(m, 0.9, "offcenter"),
    lambda m: atk.crop(m, 0.75, (0.9, 0.1)),
    lambda m: atk.blur(m, 1.0),
    lambda m: atk.brightness(m, 1.2),
    lambda m: atk.brightness(m, 0.8),
    lambda m: atk.contrast(m, 1.2),
    lambda m: atk.contrast(m, 0.8),
], ids=["jpeg75", "jpeg50", "resize0.5", "crop10", "crop25", "blur1", "bright+20",
        "bright-20", "contrast+20", "contrast-20"])
def test_survives_attack(wm, marked, attack):
    det = wm.detect(attack(marked))
    assert det.found and det.payload == PAYLOAD


def test_crop_of_large_image_finds_scale(wm):
    img = natural_like(1024, 1024, seed=7)
    out = atk.crop(wm.embed(img, PAYLOAD), 0.75, "offcenter")  # 887 x 887: scale not obvious
    det = wm.detect(out)
    assert det.found and det.payload == PAYLOAD and det.scale == 2.0


def test_wrong_key_does_not_decode(marked):
    det = ImageWatermarker(OTHER_KEY).detect(marked)
    assert not det.found and det.payload is None
    det = ImageWatermarker(KEY + b"x").detect(marked)
    assert not det.found


def test_unmarked_images_not_detected(wm, image):
    for x in (image, atk.crop(image, 0.6, "topleft"), atk.jpeg(image, 80),
              natural_like(300, 700, seed=3)):
        det = wm.detect(x)
        assert not det.found and det.payload is None
        assert det.p_value == 1.0 and det.confidence == 0.0


def test_false_positive_bound_is_below_1e6(wm, image):
    det = wm.detect(image)
    assert det.false_positive_bound == pytest.approx(8 * 2.0**-24)  # 4 scales x 2 peaks
    assert det.false_positive_bound <= 1e-6


def test_payload_length_validation(wm, image):
    with pytest.raises(ValueError, match="exactly 8 bytes"):
        wm.embed(image, b"short")
    with pytest.raises(ValueError, match="exactly 8 bytes"):
        wm.embed(image, bytes(9))
    with pytest.raises(TypeError, match="payload must be bytes"):
        wm.embed(image, "01234567")
    with pytest.raises(ValueError, match="payload_bytes must be"):
        ImageWatermarker(KEY, payload_bytes=5)
    with pytest.raises(ValueError, match="payload_bytes must be"):
        ImageWatermarker(KEY, payload_bytes=9)


def test_six_byte_payload_round_trip(image):
    wm6 = ImageWatermarker(KEY, payload_bytes=6)
    det = wm6.detect(wm6.embed(image, b"\xff\x00abcd"))
    assert det.found and det.payload == b"\xff\x00abcd"
    with pytest.raises(ValueError, match="exactly 6 bytes"):
        wm6.embed(image, PAYLOAD)


def test_key_and_image_validation(wm, image):
    with pytest.raises(ValueError, match="at least 16 bytes"):
        ImageWatermarker(b"short key")
    with pytest.raises(TypeError, match="key must be bytes"):
        ImageWatermarker("a string key that is long enough")
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        wm.embed(image[..., 0], PAYLOAD)
    with pytest.raises(ValueError, match="uint8"):
        wm.detect(image.astype(np.float32))
    with pytest.raises(ValueError, match="at least 64 pixels"):
        wm.detect(image[:32])


def test_ecc_corrects_errors_and_crc_rejects_garbage():
    rng = np.random.default_rng(0)
    info = ecc.info_bits(PAYLOAD)
    code = ecc.conv_encode(info)
    assert code.size == ecc.code_length(info.size) == 282
    soft = 1.0 - 2.0 * code
    flip = rng.choice(code.size, 25, replace=False)  # ~9 % hard errors
    soft[flip] *= -1
    decoded = ecc.viterbi_decode(soft, info.size)
    assert ecc.check_info(decoded, 8) == PAYLOAD
    garbage = ecc.viterbi_decode(rng.standard_normal(code.size), info.size)
    assert ecc.check_info(garbage, 8) is None
