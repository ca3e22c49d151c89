"""Audio files: float samples to WAV / FLAC / MP3 bytes and back, through PyAV (FFmpeg).

WAV is 16-bit PCM and FLAC 16-bit lossless, so both decode to exactly the 16-bit quantisation of
what was encoded. MP3 goes through FFmpeg's bundled LAME encoder; its encoder delay and padding
are recorded in the file's LAME header and dropped again by FFmpeg's decoder, so a round trip
keeps the duration to within about one MP3 frame (1152 samples).
"""

from __future__ import annotations

import enum
import io
import itertools

import av
import numpy as np

DEFAULT_MP3_BITRATE_KBPS = 192
_MP3_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
_MP3_FALLBACK_RATE = 48000


class AudioFormat(str, enum.Enum):
    WAV = "wav"  # PCM 16-bit little-endian in a RIFF/WAVE container
    FLAC = "flac"  # lossless, 16-bit
    MP3 = "mp3"  # MPEG-1/2 Layer III through LAME

    @property
    def extension(self) -> str:
        return f".{self.value}"

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self]


_CONTENT_TYPES = {AudioFormat.WAV: "audio/wav", AudioFormat.FLAC: "audio/flac", AudioFormat.MP3: "audio/mpeg"}
# format -> (container, codec, sample format the encoder is fed)
_ENCODERS = {
    AudioFormat.WAV: ("wav", "pcm_s16le", "s16"),
    AudioFormat.FLAC: ("flac", "flac", "s16"),
    AudioFormat.MP3: ("mp3", "libmp3lame", "fltp"),
}


def quantize_pcm16(samples: np.ndarray) -> np.ndarray:
    """The int16 values WAV and FLAC store for float `samples`: clipped to [-1, 1], x 32767, rounded."""
    return np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def encode_audio(
    samples: np.ndarray,
    sample_rate: int,
    fmt: AudioFormat,
    *,
    bitrate_kbps: int = DEFAULT_MP3_BITRATE_KBPS,
) -> bytes:
    """Encodes float samples in [-1, 1] (clipped beyond) as a complete file of format `fmt`.

    `samples` is 1-D (mono) or 2-D (frames, channels) with 1 or 2 channels. `bitrate_kbps`
    applies to MP3 only; MP3 audio at a rate LAME cannot take is resampled to 48 kHz first.
    Returns the file's bytes. Raises ValueError for empty or non-finite samples, a bad shape,
    a non-positive sample rate or bitrate.
    """
    fmt = AudioFormat(fmt)
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] not in (1, 2) or data.shape[0] == 0:
        raise ValueError(f"samples must be (frames,) or (frames, 1 or 2 channels), not empty; got {np.shape(samples)}")
    if not np.isfinite(data).all():
        raise ValueError("samples must be finite")
    if sample_rate <= 0 or bitrate_kbps <= 0:
        raise ValueError(f"sample_rate and bitrate_kbps must be positive, got {sample_rate} and {bitrate_kbps}")
    layout = "mono" if data.shape[1] == 1 else "stereo"
    container, codec, sample_format = _ENCODERS[fmt]
    if sample_format == "s16":
        frame = av.AudioFrame.from_ndarray(quantize_pcm16(data).reshape(1, -1), format="s16", layout=layout)
    else:  # planar float: one row per channel
        planar = np.ascontiguousarray(np.clip(data, -1.0, 1.0).T)
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
    frame.sample_rate = sample_rate
    rate = sample_rate
    if fmt is AudioFormat.MP3 and sample_rate not in _MP3_RATES:
        rate = _MP3_FALLBACK_RATE

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=rate, layout=layout)
        stream.format = sample_format
        if fmt is AudioFormat.MP3:
            stream.bit_rate = bitrate_kbps * 1000
        frames = [frame]
        if rate != sample_rate:
            frames = av.AudioResampler(format=sample_format, layout=layout, rate=rate).resample(frame)
        for item in [*frames, None]:  # None flushes the encoder
            for packet in stream.encode(item):
                output.mux(packet)
    return buffer.getvalue()


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Decodes an audio file (any format FFmpeg reads: WAV, FLAC, MP3, ...) to mono.

    Returns (samples, sample_rate): float32 1-D samples (16-bit PCM decodes as value / 32768;
    multichannel audio is averaged over its channels) at the file's own rate. Raises ValueError
    if `data` holds no decodable audio stream.
    """
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise ValueError("the file has no audio stream")
            stream = container.streams.audio[0]
            # Packed float at the file's own rate and layout; the down-mix is a plain channel
            # mean (FFmpeg's own stereo-to-mono mix scales by 1/sqrt(2) per channel and can clip).
            resampler = av.AudioResampler(format="flt", rate=stream.rate)
            chunks: list[np.ndarray] = []
            for frame in itertools.chain(container.decode(stream), [None]):  # None flushes the resampler
                for out in resampler.resample(frame):
                    channels = len(out.layout.channels)
                    chunks.append(out.to_ndarray().reshape(-1, channels).mean(axis=1, dtype=np.float32))
            rate = stream.rate
    except av.error.FFmpegError as exc:
        raise ValueError(f"not a decodable audio file ({type(exc).__name__}: {exc})") from exc
    if not chunks:
        raise ValueError("the file holds no audio samples")
    return np.concatenate(chunks).astype(np.float32, copy=False), int(rate)
