"""Audio watermark benchmark: robustness, SNR and false positives of provenance.audio_watermark.

    .venv/bin/python -m loadtests.bench_audio_watermark [--clips 20] [--seconds 10]
        [--false-positive 1000] [--sets speech,music,generated] [--out report.json]

For every signal set, clip and attack (``loadtests.audio_attacks.ATTACKS``) it embeds a
keyed 32-bit short id (``watermark_payload(..., nbytes=4)``), attacks the marked clip,
detects, and reports per set and attack:

* "bits": post-ECC payload-bit accuracy (the 32 payload bits as decoded, CRC or not);
* "det": detection rate (found, with the exact payload);
* "z": median sync z-score.

Per set also the SNR of the mark (mean / min, dB, against the whole clip) and the median
embed / detect times.  With ``--false-positive N`` the detector runs on N unmarked clips
(random windows of 1-10 s from all sets and fresh noise, some MP3-coded or resampled) and
on marked clips read with a wrong key.  Exit code 1 if any target is missed.

Signal sets (32 kHz is MusicGen's rate; every 3rd music clip is 44.1 kHz stereo):

* speech: espeak-ng (Debian package ``espeak-ng``) sentences with varied voices, rates
  and pitches, with a -55 dB noise floor like a recording; skipped with a hint when
  espeak-ng is missing;
* music: synthetic chords, melodies with harmonics, bass and percussion-like noise bursts;
* noise-like: coloured noise with music-like spectra and slow loudness changes;
* generated: a tiny random-weight MusicGen (transformers, built inline: T5 1 layer,
  EnCodec 32 kHz geometry with 8 filters, 2-layer decoder, 4 codebooks of 64) sampling
  from a random prompt.  Random-weight EnCodec output is noise-like and carries
  ~99.8 % of its power above 6 kHz (much of it near Nyquist): white noise at 20 dB SNR
  then has twice the power of the clip's whole 1-6 kHz band.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import wave
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from loadtests.audio_attacks import ATTACKS, mp3, resample
from provenance.audio_watermark import MIN_DURATION_S, AudioWatermarker, UnmarkableAudio
from provenance.records.hmac import watermark_payload

KEY = b"bench-audio-watermark-key-0123456789"
RECORD_KEY = b"bench-audio-record-key-0123456789ab"
RATE = 32_000
# post-ECC payload-bit accuracy targets of the issue, per attack
TARGETS = {"none": 0.99, "mp3-128": 0.99, "mp3-64": 0.95, "aac-96": 0.95, "resample16k": 0.98,
           "noise20dB": 0.90}
MIN_SNR_DB = 25.0

SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "A watermark is a hidden signal that survives compression and resampling.",
    "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack.",
    "We also need a small plastic snake and a big toy frog for the kids.",
    "She can scoop these things into three red bags, and we will go meet her Wednesday.",
    "Numbers like three hundred and forty two are read out slowly and clearly.",
    "The weather tomorrow will be cloudy with a chance of light rain in the evening.",
    "Generative media needs provenance that a listener can verify later on.",
)
VOICES = ("en-us", "en+f3", "en-gb", "en+m3", "en-us+f2", "en+m7", "en-gb+f4", "en+croak")


# ---------------------------------------------------------------------------- signals


def to_rate(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    q = Fraction(dst, src)
    return x if q == 1 else resample_poly(x, q.numerator, q.denominator, axis=0)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def _espeak(text: str, voice: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", f.name, text],
                       check=True, capture_output=True)
        with wave.open(f.name) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
            return pcm.astype(np.float64) / 32768.0, w.getframerate()


def speech_clip(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """espeak-ng sentences (one voice per clip) with short pauses and a -55 dB noise floor."""
    rng = np.random.default_rng(seed)
    voice, speed, pitch = VOICES[seed % len(VOICES)], int(rng.integers(130, 200)), int(rng.integers(25, 75))
    parts, total = [], 0
    while total < seconds * rate:
        text = SENTENCES[int(rng.integers(len(SENTENCES)))]
        pcm, src = _espeak(text, voice, speed, pitch)
        parts += [to_rate(pcm, src, rate), np.zeros(int(rng.uniform(0.05, 0.4) * rate))]
        total += parts[-2].size + parts[-1].size
    x = np.concatenate(parts)[: int(seconds * rate)]
    x = x / (np.sqrt(np.mean(x ** 2)) + 1e-12)
    x = x + 10 ** (-55 / 20) * rng.standard_normal(x.size)
    return (x * 10 ** (rng.uniform(-26, -18) / 20)).astype(np.float32)


def _note(f0: float, t: np.ndarray, n_harm: int, tilt: float, rate: int, rng) -> np.ndarray:
    out = np.zeros_like(t)
    for k in range(1, n_harm + 1):
        if f0 * k < 0.45 * rate:
            out += k ** -tilt * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
    return out


def music_clip(seconds: float, seed: int, rate: int = RATE, channels: int = 1) -> np.ndarray:
    """Chord pads, a melody and a bass with harmonics, and kick / snare / hi-hat noise bursts."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    mix = np.zeros((n, channels))
    pan = lambda v, p: np.stack([v * (1 - p), v * p], 1) if channels == 2 else v[:, None]  # noqa: E731
    root = 110 * 2 ** (rng.integers(0, 12) / 12)
    beat = 60 / rng.uniform(75, 150)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16])
    prog = rng.choice([0, 3, 5, 7, 8, 10], size=8)
    tilt = rng.uniform(0.8, 1.6)
    for i, start in enumerate(np.arange(0, seconds, 4 * beat)):  # chords, 4 beats each
        seg = (t >= start) & (t < start + 4 * beat)
        tt = t[seg] - start
        env = np.minimum(1, tt / 0.08) * np.exp(-tt / rng.uniform(1.5, 4))
        for iv in (0, 4, 7, 11) if rng.random() < 0.4 else (0, 4, 7):
            f0 = 2 * root * 2 ** ((prog[i % 8] + iv) / 12)
            mix[seg] += pan(0.12 * env * _note(f0, tt, 12, tilt, rate, rng), rng.uniform(0.3, 0.7))
    for start in np.arange(0, seconds, beat / 2):  # melody, eighth notes
        if rng.random() < 0.2:
            continue
        seg = (t >= start) & (t < start + beat / 2)
        tt = t[seg] - start
        f0 = 4 * root * 2 ** (rng.choice(scale) / 12)
        env = np.minimum(1, tt / 0.01) * np.exp(-tt / 0.3)
        vib = np.sin(2 * np.pi * 5.5 * tt) * 0.003
        mix[seg] += pan(0.18 * env * _note(f0, tt * (1 + vib), 8, tilt + 0.3, rate, rng), 0.6)
    for start in np.arange(0, seconds, beat):  # bass, kick, snare, hi-hat
        beat_no = int(round(start / beat))
        seg = (t >= start) & (t < start + beat)
        tt = t[seg] - start
        mix[seg] += pan(0.25 * np.exp(-tt / 0.4) * _note(root / 2 * 2 ** (prog[(beat_no // 4) % 8] / 12),
                                                          tt, 6, 1.2, rate, rng), 0.5)
        kick = np.sin(2 * np.pi * (50 + 80 * np.exp(-tt / 0.03)) * tt) * np.exp(-tt / 0.12)
        mix[seg] += pan(0.5 * kick if beat_no % 2 == 0 else 0 * kick, 0.5)
        burst = rng.standard_normal(tt.size)
        if beat_no % 2 == 1:  # snare: band-passed burst
            burst = np.convolve(burst, np.ones(3) / 3, "same") * np.exp(-tt / 0.06)
            mix[seg] += pan(0.3 * burst, 0.45)
        hat = (np.diff(rng.standard_normal(tt.size + 1)) * np.exp(-(tt % (beat / 2)) / 0.015))
        mix[seg] += pan(0.05 * hat, 0.65)
    mix /= np.sqrt(np.mean(mix ** 2)) + 1e-12
    mix *= 10 ** (rng.uniform(-24, -16) / 20)
    out = np.clip(mix, -1, 1).astype(np.float32)
    return out[:, 0] if channels == 1 else out


def noise_like_clip(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Coloured noise (power ~ 1 / f^a, a in [0.5, 1.5], a low-pass from 6 to 14 kHz) with a
    slow loudness modulation: the noise-like output of an untrained generator, but with a
    music-like spectrum."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    f = np.fft.rfftfreq(n, 1 / rate)
    spec = np.fft.rfft(rng.standard_normal(n)) / np.maximum(f, 40) ** (rng.uniform(0.5, 1.5) / 2)
    spec /= 1 + (f / rng.uniform(6000, 14000)) ** 4
    x = np.fft.irfft(spec, n)
    t = np.arange(n) / rate
    x *= 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t + rng.uniform(0, 6.3))
    x *= 10 ** (rng.uniform(-24, -16) / 20) / (np.sqrt(np.mean(x ** 2)) + 1e-12)
    return np.clip(x, -1, 1).astype(np.float32)


class TinyMusicGen:
    """A tiny random-weight MusicGen (transformers), sampling ``seconds`` of 32 kHz audio."""

    def __init__(self, seed: int = 0) -> None:
        import torch
        from transformers import MusicgenConfig, MusicgenForConditionalGeneration
        from transformers.models.encodec.modeling_encodec import EncodecEuclideanCodebook

        self.torch = torch
        torch.manual_seed(seed)
        text = dict(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=1,
                    num_heads=2, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
        audio = dict(sampling_rate=RATE, audio_channels=1, num_filters=8, num_residual_layers=1,
                     upsampling_ratios=[8, 5, 4, 4], codebook_size=64, codebook_dim=16, hidden_size=16,
                     num_lstm_layers=1, target_bandwidths=[1.2], normalize=False, chunk_length_s=None,
                     overlap=None)
        decoder = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                       ffn_dim=64, num_codebooks=4, max_position_embeddings=2048, pad_token_id=64,
                       bos_token_id=64, audio_channels=1)
        self.model = MusicgenForConditionalGeneration(
            MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder)).eval()
        with torch.no_grad():  # EnCodec's init leaves codebooks at zero: every token would sound alike
            for module in self.model.audio_encoder.modules():
                if isinstance(module, EncodecEuclideanCodebook):
                    module.embed.normal_()
                    module.embed_avg.copy_(module.embed)
                    module.cluster_size.fill_(1.0)

    def clip(self, seconds: float, seed: int) -> np.ndarray:
        torch = self.torch
        gen = torch.Generator().manual_seed(seed)
        ids = torch.randint(2, 100, (1, 8), generator=gen)
        torch.manual_seed(seed)
        with torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                      max_new_tokens=int(50 * seconds) + 4, decoder_start_token_id=64,
                                      pad_token_id=64, bos_token_id=64, guidance_scale=None)
        x = out[0, 0].numpy().astype(np.float64)[: int(seconds * RATE)]
        x -= x.mean()
        x *= 10 ** (-20 / 20) / (np.sqrt(np.mean(x ** 2)) + 1e-12)
        return np.clip(x, -1, 1).astype(np.float32)


def make_sets(names: list[str], n: int, seconds: float, seed: int) -> tuple[dict, list[str]]:
    """{set: [(clip_name, samples, rate)]} and notes about skipped sets."""
    sets, notes = {}, []
    for name in names:
        if name == "speech":
            if not espeak_available():
                notes.append("speech set skipped: espeak-ng not found (Debian/Ubuntu: "
                             "apt-get install espeak-ng; scripts/install_system_deps.sh)")
                continue
            sets[name] = [(f"speech{i}", speech_clip(seconds, seed + i), RATE) for i in range(n)]
        elif name == "music":
            clips = []
            for i in range(n):
                if i % 3 == 2:  # every 3rd: 44.1 kHz stereo
                    x = music_clip(seconds, seed + 100 + i, 44_100, 2)
                    clips.append((f"music{i}-44k1-stereo", x, 44_100))
                else:
                    clips.append((f"music{i}", music_clip(seconds, seed + 100 + i), RATE))
            sets[name] = clips
        elif name == "noise-like":
            sets[name] = [(f"noise{i}", noise_like_clip(seconds, seed + 300 + i), RATE) for i in range(n)]
        elif name == "generated":
            try:
                gen = TinyMusicGen(seed)
            except Exception as exc:  # noqa: BLE001 - transformers missing or incompatible
                notes.append(f"generated set skipped: tiny MusicGen unavailable ({exc})")
                continue
            sets[name] = [(f"musicgen{i}", gen.clip(seconds, seed + 200 + i), RATE) for i in range(n)]
        else:
            raise SystemExit(f"unknown set {name!r}; known: speech, music, noise-like, generated")
        print(f"  built {name}: {len(sets[name])} clips", file=sys.stderr, flush=True)
    return sets, notes


# ---------------------------------------------------------------------------- runs


@dataclass
class Cell:
    bits: list[float] = field(default_factory=list)
    det: list[float] = field(default_factory=list)
    z: list[float] = field(default_factory=list)


@dataclass
class SetStats:
    cells: dict = field(default_factory=dict)
    snr: list[float] = field(default_factory=list)
    embed_s: list[float] = field(default_factory=list)
    detect_s: list[float] = field(default_factory=list)
    wrong_key: list[int] = field(default_factory=lambda: [0, 0])
    refused: list[str] = field(default_factory=list)  # clips embed() refused (UnmarkableAudio)


def snr_db(x: np.ndarray, y: np.ndarray) -> float:
    x = x.astype(np.float64)
    err = float(np.sum((y.astype(np.float64) - x) ** 2))
    return 99.0 if err == 0 else 10 * math.log10(float(np.sum(x ** 2)) / err)


def bit_accuracy(decoded: bytes | None, payload: bytes) -> float:
    if decoded is None:
        return 0.5
    a = np.unpackbits(np.frombuffer(decoded, np.uint8))
    b = np.unpackbits(np.frombuffer(payload, np.uint8))
    return float(np.mean(a == b))


def run_set(clips, attacks, wm: AudioWatermarker, wrong: AudioWatermarker, name: str) -> SetStats:
    st = SetStats()
    for clip_name, x, rate in clips:
        payload = watermark_payload(RECORD_KEY, str(uuid.uuid4()), 0, nbytes=4)
        t = time.perf_counter()
        try:
            y = wm.embed(x, rate, payload)
        except UnmarkableAudio:  # the service answers INVALID_ARGUMENT and releases nothing
            st.refused.append(clip_name)
            print(f"  {name:9s} {clip_name:22s} refused: cannot carry the mark", file=sys.stderr, flush=True)
            continue
        st.embed_s.append(time.perf_counter() - t)
        st.snr.append(snr_db(x, y))
        for attack in attacks:
            z = ATTACKS[attack](y, rate)
            t = time.perf_counter()
            det = wm.detect(z, rate)
            st.detect_s.append(time.perf_counter() - t)
            cell = st.cells.setdefault(attack, Cell())
            cell.bits.append(bit_accuracy(det.decoded_payload, payload))
            cell.det.append(float(det.found and det.payload == payload))
            cell.z.append(det.z_score)
        st.wrong_key[0] += int(wrong.detect(y, rate).found)
        st.wrong_key[1] += 1
        print(f"  {name:9s} {clip_name:22s} snr {st.snr[-1]:5.2f} dB", file=sys.stderr, flush=True)
    return st


def false_positive_run(n: int, pool: list[tuple[np.ndarray, int]], wm: AudioWatermarker,
                       seed: int) -> dict:
    """The detector on n unmarked clips: random 1-10 s windows of the pool or fresh noise,
    at random gains; every 5th MP3-coded (128 / 64 kbps), every 7th resampled via 16 kHz.
    Then n // 10 clips marked under another key."""
    rng = np.random.default_rng(seed)
    found, zs, times = 0, [], []
    for i in range(n):
        if i % 10 == 9 or not pool:
            rate = int(rng.choice([16_000, 32_000, 44_100, 48_000]))
            seconds = float(rng.uniform(1, 10))
            color = float(rng.uniform(0, 1.5))
            spec = np.fft.rfft(rng.standard_normal(int(seconds * rate)))
            spec /= np.maximum(np.fft.rfftfreq(int(seconds * rate), 1 / rate), 20) ** (color / 2)
            x = np.fft.irfft(spec, int(seconds * rate))
            x = (0.1 * x / (x.std() + 1e-12)).astype(np.float32)
        else:
            base, rate = pool[int(rng.integers(len(pool)))]
            length = min(base.shape[0], int(rng.uniform(1, 10) * rate))
            start = int(rng.integers(0, base.shape[0] - length + 1))
            x = (base[start:start + length] * 10 ** (rng.uniform(-12, 6) / 20)).clip(-1, 1).astype(np.float32)
        if i % 5 == 1:
            x = mp3(x, rate, int(rng.choice([64, 128])))
        elif i % 7 == 3:
            x = resample(x, rate)
        t = time.perf_counter()
        det = wm.detect(x, rate)
        times.append(time.perf_counter() - t)
        zs.append(det.z_score)
        found += int(det.found)
        if (i + 1) % 100 == 0:
            print(f"  false-positive run: {i + 1}/{n}, {found} detections", file=sys.stderr, flush=True)
    wrong_wm = AudioWatermarker(bytes(reversed(KEY)))
    wrong_pool = pool or [(noise_like_clip(3.0, seed), RATE)]
    n_wrong, wrong_found, tried = max(1, n // 10), 0, 0
    for i in range(n_wrong):
        base, rate = wrong_pool[i % len(wrong_pool)]
        try:
            marked = wrong_wm.embed(base, rate, rng.bytes(4))
        except UnmarkableAudio:  # a clip too short or quiet to carry a mark under either key
            continue
        tried += 1
        if i % 2:
            marked = mp3(marked, rate, 128)
        wrong_found += int(wm.detect(marked, rate).found)
    return {"unmarked": n, "false_detections": found, "wrong_key_inputs": tried,
            "wrong_key_detections": wrong_found, "max_z": float(max(zs)) if zs else 0.0,
            "z_99": float(np.percentile(zs, 99)) if zs else 0.0,
            "detect_ms_median": 1000 * float(np.median(times)) if times else 0.0,
            "bound_per_clip": wm.detect(np.zeros(RATE, np.float32), RATE).false_positive_bound}


def fmt_table(results: dict[str, SetStats], attacks: list[str]) -> tuple[str, list[str]]:
    misses = []
    head = f"{'set':10s} {'attack':12s} {'target':>6s} | {'bits':>6s} {'det':>5s} {'z med':>6s}"
    lines = [head, "-" * len(head)]
    for name, st in results.items():
        if not st.snr:
            misses.append(f"{name}: every clip refused (cannot carry the mark)")
            lines.append(f"{name:10s} every clip refused: cannot carry the mark")
            continue
        for attack in attacks:
            cell, target = st.cells[attack], TARGETS.get(attack)
            bits = float(np.mean(cell.bits))
            flag = ""
            if target is not None:
                flag = " ok" if bits >= target else " !!"
                if bits < target:
                    misses.append(f"{name}/{attack}: bit accuracy {bits:.3f} < {target}")
            lines.append(f"{name:10s} {attack:12s} {('%.2f' % target) if target else '':>6s} | "
                         f"{bits:6.3f} {np.mean(cell.det):5.2f} {np.median(cell.z):6.1f}{flag}")
        snr_min = float(np.min(st.snr))
        if snr_min < MIN_SNR_DB:
            misses.append(f"{name}: SNR min {snr_min:.2f} dB < {MIN_SNR_DB}")
        lines.append(f"{name:10s} {'SNR dB':12s} {MIN_SNR_DB:6.1f} | mean {np.mean(st.snr):5.2f} "
                     f"min {snr_min:5.2f}{' ok' if snr_min >= MIN_SNR_DB else ' !!'}")
        lines.append(f"{name:10s} {'ms':12s} {'':6s} | embed {1000 * np.median(st.embed_s):6.1f} "
                     f"detect {1000 * np.median(st.detect_s):6.1f}  (median per clip)")
        if st.refused:
            lines.append(f"{name:10s} {'refused':12s} {'':6s} | {len(st.refused)} of "
                         f"{len(st.refused) + len(st.snr)} clips cannot carry the mark (never released; "
                         "the rows above are the others)")
        if st.wrong_key[0]:
            misses.append(f"{name}: wrong key detected {st.wrong_key[0]} / {st.wrong_key[1]}")
        lines.append("-" * len(head))
    return "\n".join(lines), misses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=20, help="clips per signal set")
    ap.add_argument("--seconds", type=float, default=10.0, help="clip length")
    ap.add_argument("--sets", default="speech,music,noise-like,generated")
    ap.add_argument("--attacks", default=",".join(ATTACKS), help=f"subset of {','.join(ATTACKS)}")
    ap.add_argument("--false-positive", type=int, default=0, metavar="N",
                    help="run the detector on N unmarked clips (the issue asks for 1000)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for MusicGen")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the numbers as JSON")
    args = ap.parse_args(argv)
    if args.seconds < MIN_DURATION_S:
        ap.error(f"--seconds must be >= {MIN_DURATION_S} (the watermark's minimum clip length)")
    attacks = [a for a in args.attacks.split(",") if a]
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        ap.error(f"unknown attacks {unknown}; known: {', '.join(ATTACKS)}")
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        pass

    sets, notes = make_sets(args.sets.split(","), args.clips, args.seconds, args.seed)
    for note in notes:
        print(f"note: {note}")
    wm = AudioWatermarker(KEY)
    wrong = AudioWatermarker(bytes(reversed(KEY)))
    results = {name: run_set(clips, attacks, wm, wrong, name) for name, clips in sets.items()}

    print(f"\nclips per set: {args.clips} x {args.seconds:g} s; payload 32 bits (+CRC-24, rate-1/3 "
          f"conv code); minimum clip {MIN_DURATION_S} s")
    print("bits = post-ECC payload-bit accuracy, det = detected with the exact payload, "
          "z = median sync z-score; ok/!! = bits vs target")
    table, misses = fmt_table(results, attacks)
    print(table)
    report = {"clips": args.clips, "seconds": args.seconds, "notes": notes, "sets": {
        name: {"snr_mean": float(np.mean(st.snr)), "snr_min": float(np.min(st.snr)),
               "embed_ms": 1000 * float(np.median(st.embed_s)),
               "detect_ms": 1000 * float(np.median(st.detect_s)), "wrong_key": st.wrong_key,
               "refused": st.refused, "attacks": {a: {"bits": float(np.mean(c.bits)), "det": float(np.mean(c.det)),
                               "z_median": float(np.median(c.z))} for a, c in st.cells.items()}}
        for name, st in results.items() if st.snr}}
    if args.false_positive:
        pool = [(x, rate) for clips in sets.values() for _, x, rate in clips]
        t = time.perf_counter()
        fp = false_positive_run(args.false_positive, pool, wm, args.seed + 1)
        fp["seconds"] = time.perf_counter() - t
        report["false_positive"] = fp
        print(f"false positives: {fp['false_detections']} / {fp['unmarked']} unmarked clips, "
              f"{fp['wrong_key_detections']} / {fp['wrong_key_inputs']} wrong-key clips; max z "
              f"{fp['max_z']:.2f} (99th pct {fp['z_99']:.2f}); analytic bound {fp['bound_per_clip']:.1e} "
              f"per clip; detect median {fp['detect_ms_median']:.1f} ms; {fp['seconds']:.0f} s")
        if fp["false_detections"] or fp["wrong_key_detections"]:
            misses.append(f"false positives: {fp['false_detections']} unmarked, "
                          f"{fp['wrong_key_detections']} wrong-key")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    if misses:
        print("MISSED TARGETS:\n  " + "\n  ".join(misses))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
