"""Hypothesis strategies for every request message of the public API.

Three families, each yielding a `Case` (the RPC, the exact bytes sent, a kind label, a deadline):

- typed: a real message of the request type with valid-ish, boundary and hostile values (0, max,
  max+1, 2^32-1, 2^63, NaN/inf, huge and odd Unicode strings, control characters), serialised by
  protobuf. Generation requests that might pass validation are made cheap (`cheap_*`): a few
  steps, 64 px, 1-2 frames, 2 s of audio, so the fuzzer spends its time on the edge.
- valid: a cheap request that should succeed (or be refused by the safety policy).
- raw: bytes no protobuf serializer writes: random bytes, a valid message truncated or bit-flipped,
  invalid UTF-8 in a string field, a field with the wrong wire type, varints past the field's
  width (negative numbers, 2^64-1), NaN payloads, length prefixes past the end, deep groups,
  field number 0, oneof members twice, large unknown fields.

`KNOWN` collects generation ids and artifact URIs from successful results while a run goes on, so
GetGeneration, GetRecord and Verify also get ids and URIs that exist (and mutations of them).
"""

from __future__ import annotations

import math
import random
import threading
import uuid
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor as FD
from grpc_health.v1 import health_pb2
from hypothesis import strategies as st

from genmedia.v1 import generation_pb2 as pb
from genmedia.v1 import provenance_pb2 as ppb
from genmedia.v1 import safety_pb2 as spb
from loadtests.fuzz import media, wire
from loadtests.fuzz.rpcs import RPCS

DEFAULT_TIMEOUT_S = 30.0
GENERATION_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Case:
    rpc: str
    data: bytes
    kind: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    note: str = ""


# --- what runs have seen ---------------------------------------------------------------------------


class Known:
    """Generation ids and URIs seen in OK results (thread-safe, bounded)."""

    def __init__(self, limit: int = 256):
        self._lock = threading.Lock()
        self.ids: list[str] = []
        self.uris: list[str] = []
        self.limit = limit

    def add(self, generation_id: str = "", uris: list[str] = ()) -> None:
        with self._lock:
            if generation_id and generation_id not in self.ids and len(self.ids) < self.limit:
                self.ids.append(generation_id)
            for uri in uris:
                if uri and uri not in self.uris and len(self.uris) < self.limit:
                    self.uris.append(uri)

    def pick_id(self, i: int) -> str:
        with self._lock:
            return self.ids[i % len(self.ids)] if self.ids else str(uuid.UUID(int=i % (1 << 128)))

    def pick_uri(self, i: int) -> str:
        with self._lock:
            return self.uris[i % len(self.uris)] if self.uris else "file:///nonexistent/local/x.png"


KNOWN = Known()

# --- values ----------------------------------------------------------------------------------------

SPICE = ["\u200b", "\u200d", "\u200e", "\u200f", "\u202e", "\u2066", "\u2069", "\ufeff", "e\u0301\u0301\u0301",
         "🦄", "👨‍👩‍👧‍👦", "🏳️‍🌈", "\U0010ffff", "\ufffd", "\uffff", "𝕬", "ﷺ", "\x00", "\x07", "\x1b[31mred",
         "\t\n\r", "\x7f", "\x85", "\u2028", "\u2029", "Z̷̢̛a̸l̵g̶o̴", "مرحبا", "שלום", "日本語", "\U000e0001", "%s%n",
         "{0}", "'; DROP TABLE records; --", "../../etc/passwd", "\\x00", " ", "<|endoftext|>", "<s>", "[MASK]"]
SAFE_PROMPTS = ["a red apple on a wooden table", "a lighthouse at dusk", "watercolor fox in the snow",
                "a small boat", "a short calm piano tune", "mountains, oil painting", "x"]
HUGE_UNITS = ["a", "word ", "🦄", "\u0301", "é", "\u200b", "x\x00", "\U0010ffff", "日"]
HUGE_LENGTHS = [75, 76, 77, 78, 300, 999, 1000, 1001, 1999, 2000, 2001, 3999, 4000, 4001, 20_000, 200_000]
U32 = [0, 1, 2, 7, 8, 15, 16, 17, 30, 31, 32, 33, 60, 61, 63, 64, 65, 72, 120, 128, 149, 150, 151, 1023, 1024, 1025,
       1032, 2047, 2048, 2049, 2056, 4096, 10_000, 2**16, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1]
U64 = [0, 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 2, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 2, 2**64 - 1]
FLOATS = [math.nan, -math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-45, -1e-45, 1.1754944e-38, 0.5, 0.99999994, 1.0,
          1.0000001, 1.9999999, 2.0, 2.0000002, 3.0, 4.9999995, 5.0, 5.0000005, 9.999999, 10.0, 10.000001, 29.999998,
          30.0, 30.000002, 30.5, 31.0, -1.0, 1e6, 3.4028235e38, -3.4028235e38]
IMAGE_MODELS = ["tiny-sd", "tiny-sdxl", "tiny-sd3", "tiny-flux"]
VIDEO_MODELS = ["tiny-t2v", "tiny-animatediff"]
AUDIO_MODELS = ["tiny-musicgen"]
MODEL_NAMES = ["", *IMAGE_MODELS, *VIDEO_MODELS, *AUDIO_MODELS, "cpu-small", "no-such-model", "TINY-SD", " tiny-sd",
               "tiny-sd ", "tiny-sd\x00", "../tiny-sd", "tiny_sd", "preset:tiny-sd"]


def huge_text() -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(HUGE_UNITS), st.sampled_from(HUGE_LENGTHS)).map(
        lambda t: (t[0] * (t[1] // len(t[0]) + 1))[:t[1]])


def text() -> st.SearchStrategy[str]:
    """Strings for any string field: empty, blank, short arbitrary Unicode, odd code points, huge."""
    return st.one_of(
        st.just(""),
        st.text(alphabet=" \t\n\r\u00a0\u2003\u3000\u200b", max_size=8),
        st.text(max_size=40),
        st.lists(st.sampled_from(SPICE + SAFE_PROMPTS), max_size=6).map("".join),
        st.sampled_from(SAFE_PROMPTS),
        huge_text(),
    )


def prompt() -> st.SearchStrategy[str]:
    return st.one_of(text(), st.sampled_from(SAFE_PROMPTS), st.sampled_from(SAFE_PROMPTS))


def u32() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(U32), st.integers(0, 2**32 - 1), st.integers(0, 300))


def u64() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(U64), st.integers(0, 2**64 - 1))


def f32() -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from(FLOATS), st.floats(width=32), st.floats(-2, 40, width=32))


def enum(values) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(list(values)), st.sampled_from([-1, -(2**31), 99, 2**31 - 1, len(values)]))


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


def idempotency_key() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.just(""), st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126),
                                                        min_size=1, max_size=128),
                     st.sampled_from(["a" * 128, "a" * 129, "key with space", "k\x7f", "ключ", "k\x00"]), text())


def model(kinds: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(MODEL_NAMES), st.sampled_from(["", *kinds]), text())


# --- typed requests --------------------------------------------------------------------------------


def _message(cls, **fields):
    msg = cls()
    for name, value in fields.items():
        if value is not None:
            setattr(msg, name, value)
    return msg


def image_request() -> st.SearchStrategy[pb.ImageRequest]:
    return st.builds(
        lambda **kw: _message(pb.ImageRequest, **kw),
        prompt=prompt(), negative_prompt=st.one_of(st.just(""), st.just(""), text()), model=model(IMAGE_MODELS),
        width=st.one_of(st.just(0), u32()), height=st.one_of(st.just(0), u32()), steps=st.one_of(st.just(0), u32()),
        guidance_scale=maybe(f32()), scheduler=enum(pb.Scheduler.values()), seed=maybe(u64()),
        num_images=st.one_of(st.just(0), u32()), format=enum(pb.ImageFormat.values()), return_bytes=st.booleans(),
        idempotency_key=idempotency_key(), preview=st.booleans(),
    )


def video_request() -> st.SearchStrategy[pb.VideoRequest]:
    return st.builds(
        lambda **kw: _message(pb.VideoRequest, **kw),
        prompt=prompt(), negative_prompt=st.one_of(st.just(""), text()), model=model(VIDEO_MODELS),
        width=st.one_of(st.just(0), u32()), height=st.one_of(st.just(0), u32()),
        num_frames=st.one_of(st.just(0), u32()), fps=st.one_of(st.just(0), u32()),
        steps=st.one_of(st.just(0), u32()), guidance_scale=maybe(f32()), scheduler=enum(pb.Scheduler.values()),
        seed=maybe(u64()), container=enum(pb.VideoContainer.values()), return_bytes=st.booleans(),
        idempotency_key=idempotency_key(),
    )


def audio_request() -> st.SearchStrategy[pb.AudioRequest]:
    return st.builds(
        lambda **kw: _message(pb.AudioRequest, **kw),
        prompt=prompt(), model=model(AUDIO_MODELS), duration_s=st.one_of(st.just(0.0), f32()),
        guidance_scale=maybe(f32()), top_k=maybe(u32()), top_p=maybe(f32()), temperature=maybe(f32()),
        seed=maybe(u64()), format=enum(pb.AudioFormat.values()), return_bytes=st.booleans(),
        idempotency_key=idempotency_key(),
    )


def generation_id() -> st.SearchStrategy[str]:
    return st.one_of(
        text(), st.uuids().map(str), st.uuids(version=4).map(lambda u: str(u).upper()),
        st.integers(0, 10**6).map(KNOWN.pick_id),
        st.tuples(st.integers(0, 10**6), st.integers(0, 40), st.sampled_from("0f-/.%\x00é ")).map(
            lambda t: _mutate_str(KNOWN.pick_id(t[0]), t[1], t[2])),
        st.sampled_from(["../../etc/passwd", "local/../../x", "/", ".", "..", "local", "%2e%2e/%2e%2e", "*", "?",
                         "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
                         "01900000-0000-7000-8000-000000000000", "{00000000-0000-0000-0000-000000000000}",
                         "urn:uuid:00000000-0000-0000-0000-000000000000", "0" * 32]),
    )


def _mutate_str(s: str, at: int, char: str) -> str:
    if not s:
        return char
    at %= len(s) + 1
    return s[:at] + char + s[at + 1:]


def artifact_uri() -> st.SearchStrategy[str]:
    return st.one_of(
        text(), st.integers(0, 10**6).map(KNOWN.pick_uri),
        st.tuples(st.integers(0, 10**6), st.sampled_from(["/../../../etc/passwd", "/..", "%2e%2e/x", "?q=1", "#f",
                                                           ".meta.json", "/", "\x00", "x", "%00"])).map(
            lambda t: KNOWN.pick_uri(t[0]) + t[1]),
        st.integers(0, 10**6).map(lambda i: KNOWN.pick_uri(i).replace("/local/", "/other-tenant/")),
        st.integers(0, 10**6).map(lambda i: KNOWN.pick_uri(i).rsplit("/", 1)[0] + "/../../../../../../dev/zero"),
        st.sampled_from(["file:///etc/passwd", "file:///", "file://", "file:", "file:///dev/zero", "file:///proc/self/environ",
                         "s3://", "s3://bucket/key", "s3://genmedia-test/artifacts/local/x.png", "http://127.0.0.1:1/x",
                         "https://example.com/x.png", "data:image/png;base64,iVBORw0KGgo=", "file://host/etc/passwd",
                         "local/x.png", "file:///tmp/%2e%2e/etc/passwd", "gs://b/k", "\\\\server\\share"]),
    )


def media_bytes() -> st.SearchStrategy[bytes]:
    """Image/audio/video bytes: corpus files, mutated corpus files, random bytes, oversize."""
    files = media.corpus()
    names = sorted(files)
    seed = st.sampled_from(names).map(files.__getitem__)
    return st.one_of(
        seed,
        st.tuples(seed, st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])]),  # truncated
        st.tuples(seed, st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), min_size=1, max_size=8)).map(
            lambda t: _flip(t[0], t[1])),
        st.tuples(seed, st.integers(0, 64), st.binary(min_size=1, max_size=64)).map(
            lambda t: t[0][:t[1]] + t[2] + t[0][t[1] + len(t[2]):]),  # header overwrite
        st.binary(max_size=512),
        st.tuples(st.sampled_from(names), st.integers(1, 20)).map(lambda t: files[t[0]] * t[1]),  # repeated
    )


def _flip(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    if not data:
        return bytes(v for _, v in edits)
    out = bytearray(data)
    for at, value in edits:
        out[at % len(out)] = value
    return bytes(out)


def rare_media() -> st.SearchStrategy[tuple[bytes, str]]:
    """Expensive payloads: 20 MB + 1 of noise, a 49 MP zip-bomb PNG, 100 MiB + 1 of zeros."""
    return st.sampled_from(["20MB+1", "bomb-49MP", "20MB-png-padded"]).map(_rare)


def _rare(name: str) -> tuple[bytes, str]:
    if name == "20MB+1":
        return random.Random(1).randbytes(20 * 1024 * 1024 + 1), name
    if name == "bomb-49MP":
        return media.bomb(), name
    png = media.corpus()["png-64-rgb"]
    return png + b"\0" * (20 * 1024 * 1024 + 1 - len(png)), name


def verify_request() -> st.SearchStrategy[ppb.VerifyRequest]:
    return st.one_of(
        st.just(ppb.VerifyRequest()),
        media_bytes().map(lambda d: ppb.VerifyRequest(data=d)),
        media_bytes().map(lambda d: ppb.VerifyRequest(data=d)),
        artifact_uri().map(lambda u: ppb.VerifyRequest(uri=u)),
    )


def typed_request(rpc: str) -> st.SearchStrategy:
    """A message of `rpc`'s request type (valid-ish, boundary or hostile values)."""
    if rpc in ("GenerateImage", "StreamImage"):
        return image_request()
    if rpc in ("GenerateVideo", "StreamVideo"):
        return video_request()
    if rpc in ("GenerateAudio", "StreamAudio"):
        return audio_request()
    if rpc == "GetGeneration":
        return generation_id().map(lambda g: pb.GetGenerationRequest(generation_id=g))
    if rpc == "GetRecord":
        return generation_id().map(lambda g: ppb.GetRecordRequest(generation_id=g))
    if rpc == "ClassifyPrompt":
        return prompt().map(lambda p: spb.ClassifyPromptRequest(prompt=p))
    if rpc == "ClassifyImage":
        return media_bytes().map(lambda d: spb.ClassifyImageRequest(image=d))
    if rpc == "Verify":
        return verify_request()
    if rpc == "Check":
        return st.one_of(text(), st.sampled_from(["", "genmedia.v1.GenerationService", "genmedia.v1.SafetyService",
                                                  "genmedia.v1.ProvenanceService", "grpc.health.v1.Health",
                                                  "genmedia.v1.generationservice", "genmedia.v1.GenerationService "])
                         ).map(lambda s: health_pb2.HealthCheckRequest(service=s))
    raise KeyError(rpc)


# --- keeping generation cheap ------------------------------------------------------------------------

_CTRL = {chr(c) for c in range(32)} - set("\t\n\r")


def _text_ok(s: str, limit: int, required: bool) -> bool:
    return (not required or bool(s.strip())) and len(s) <= limit and not (_CTRL & set(s))


def _key_ok(key: str) -> bool:
    return not key or (len(key) <= 128 and all(33 <= ord(c) <= 126 for c in key))


def _size_ok(v: int, high: int) -> bool:
    return v == 0 or (64 <= v <= high and v % 8 == 0)


def _guidance_ok(msg, high: float) -> bool:
    return not msg.HasField("guidance_scale") or (math.isfinite(msg.guidance_scale) and 0 <= msg.guidance_scale <= high)


def plausibly_valid(msg) -> bool:
    """Whether the server might accept `msg` and start generating (a cheap over-approximation of
    engines/params.py, video_params.py and audio_params.py: False means surely rejected)."""
    if isinstance(msg, pb.ImageRequest):
        return (_text_ok(msg.prompt, 4000, True) and _text_ok(msg.negative_prompt, 4000, False)
                and msg.model in ("", *IMAGE_MODELS) and _size_ok(msg.width, 2048) and _size_ok(msg.height, 2048)
                and msg.steps <= 150 and _guidance_ok(msg, 30) and 0 <= msg.scheduler <= 7
                and (not msg.HasField("seed") or msg.seed < 2**63) and msg.num_images <= 4 and 0 <= msg.format <= 3
                and _key_ok(msg.idempotency_key))
    if isinstance(msg, pb.VideoRequest):
        return (_text_ok(msg.prompt, 4000, True) and _text_ok(msg.negative_prompt, 4000, False)
                and msg.model in ("", *VIDEO_MODELS) and _size_ok(msg.width, 1024) and _size_ok(msg.height, 1024)
                and msg.num_frames <= 64 and msg.fps <= 60 and msg.steps <= 150 and _guidance_ok(msg, 30)
                and 0 <= msg.scheduler <= 7 and (not msg.HasField("seed") or msg.seed < 2**63)
                and 0 <= msg.container <= 2 and _key_ok(msg.idempotency_key))
    if isinstance(msg, pb.AudioRequest):
        return (_text_ok(msg.prompt, 2000, True) and msg.model in ("", *AUDIO_MODELS)
                and math.isfinite(msg.duration_s) and (msg.duration_s == 0 or 1 <= msg.duration_s <= 30)
                and _guidance_ok(msg, 10) and 0 <= msg.format <= 3 and _key_ok(msg.idempotency_key))
    return True


def cheap(msg):
    """`msg` with its cost fields capped (only applied to plausibly valid generation requests)."""
    msg = type(msg).FromString(msg.SerializeToString())
    if isinstance(msg, (pb.ImageRequest, pb.VideoRequest)):
        msg.width = 64 if msg.width else 0
        msg.height = 64 if msg.height else 0
        msg.steps = min(msg.steps, 2) or 1
        if len(msg.prompt) > 300:  # over the 77-token limit anyway; keep it from the tokenizer's slow path
            msg.prompt = msg.prompt[:300]
    if isinstance(msg, pb.ImageRequest):
        msg.num_images = min(msg.num_images, 2)
        msg.preview = False
    if isinstance(msg, pb.VideoRequest):
        msg.num_frames = min(msg.num_frames, 2) or 1
        msg.fps = min(msg.fps, 8)
    if isinstance(msg, pb.AudioRequest):
        msg.duration_s = 2.0
        if msg.HasField("top_k"):
            msg.top_k = min(msg.top_k, 50)
    return msg


def _typed_case(rpc: str, msg) -> Case:
    timeout = DEFAULT_TIMEOUT_S
    if isinstance(msg, (pb.ImageRequest, pb.VideoRequest, pb.AudioRequest)) and plausibly_valid(msg):
        msg, timeout = cheap(msg), GENERATION_TIMEOUT_S
    return Case(rpc, msg.SerializeToString(), "typed", timeout)


def valid_request(rpc: str) -> st.SearchStrategy:
    """Cheap requests meant to succeed (generation) or to exercise the success path."""
    p = st.sampled_from(SAFE_PROMPTS)
    seed = maybe(st.integers(0, 2**63 - 1))
    if rpc in ("GenerateImage", "StreamImage"):
        return st.builds(lambda **kw: _message(pb.ImageRequest, **kw), prompt=p,
                         model=st.sampled_from(["", *IMAGE_MODELS]), width=st.sampled_from([0, 64]),
                         height=st.sampled_from([0, 64]), steps=st.integers(1, 2), seed=seed,
                         num_images=st.integers(0, 2), format=st.sampled_from(pb.ImageFormat.values()),
                         return_bytes=st.booleans(), preview=st.booleans(),
                         scheduler=st.sampled_from([0, 0, 1, 4, 7]))
    if rpc in ("GenerateVideo", "StreamVideo"):
        return st.builds(lambda **kw: _message(pb.VideoRequest, **kw), prompt=p,
                         model=st.sampled_from(["", *VIDEO_MODELS]), width=st.just(64), height=st.just(64),
                         num_frames=st.integers(1, 2), fps=st.integers(1, 8), steps=st.just(1), seed=seed,
                         container=st.sampled_from(pb.VideoContainer.values()), return_bytes=st.booleans())
    if rpc in ("GenerateAudio", "StreamAudio"):
        return st.builds(lambda **kw: _message(pb.AudioRequest, **kw), prompt=p, duration_s=st.just(2.0),
                         seed=seed, format=st.sampled_from(pb.AudioFormat.values()), return_bytes=st.booleans(),
                         top_k=maybe(st.integers(0, 50)))
    if rpc == "ClassifyImage":
        files = media.corpus()
        return st.sampled_from([k for k in sorted(files) if k.startswith(("png-64", "jpeg-64", "webp", "png-8"))]).map(
            lambda k: spb.ClassifyImageRequest(image=files[k]))
    if rpc == "Verify":
        files = media.corpus()
        return st.one_of(st.sampled_from(["png-64-rgb", "jpeg-64", "wav-2s", "mp4-h264", "flac"]).map(
            lambda k: ppb.VerifyRequest(data=files.get(k, b""))),
            st.integers(0, 10**6).map(lambda i: ppb.VerifyRequest(uri=KNOWN.pick_uri(i))))
    if rpc in ("GetGeneration", "GetRecord"):
        cls = pb.GetGenerationRequest if rpc == "GetGeneration" else ppb.GetRecordRequest
        return st.integers(0, 10**6).map(lambda i: cls(generation_id=KNOWN.pick_id(i)))
    if rpc == "ClassifyPrompt":
        return p.map(lambda s: spb.ClassifyPromptRequest(prompt=s))
    return st.sampled_from(["", "genmedia.v1.GenerationService"]).map(lambda s: health_pb2.HealthCheckRequest(service=s))


# --- raw wire bytes --------------------------------------------------------------------------------

_DECLARED = {FD.TYPE_STRING: wire.LEN, FD.TYPE_BYTES: wire.LEN, FD.TYPE_MESSAGE: wire.LEN, FD.TYPE_FLOAT: wire.FIXED32,
             FD.TYPE_DOUBLE: wire.FIXED64, FD.TYPE_FIXED32: wire.FIXED32, FD.TYPE_FIXED64: wire.FIXED64}
NAN_BITS = [0x7FC00000, 0x7FC00001, 0xFFC00000, 0x7F800001, 0x7FBFFFFF, 0x7F800000, 0xFF800000, 0x00000001,
            0x80000000, 0x7F7FFFFF, 0x41F00001, 0x41200001, 0x40A00001, 0x3F800001, 0x3FFFFFFF]
VARINTS = [2**32 - 1, 2**32, 2**32 + 64, 2**32 + 2048, 2**31, 2**63 - 1, 2**63, 2**64 - 1, -1, -2, -(2**31), -(2**63)]


def _fields(request_cls):
    return list(request_cls.DESCRIPTOR.fields)


def raw_case(rpc_name: str) -> st.SearchStrategy[Case]:
    rpc = RPCS[rpc_name]
    fields = _fields(rpc.request)
    strings = [f for f in fields if f.type == FD.TYPE_STRING] or fields
    varints = [f for f in fields if f.type in (FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_ENUM, FD.TYPE_BOOL,
                                               FD.TYPE_INT32)]
    floats = [f for f in fields if f.type == FD.TYPE_FLOAT]
    base = typed_request(rpc_name).map(lambda m: (cheap(m) if plausibly_valid(m) else m).SerializeToString())
    field = st.sampled_from(fields)
    wt = st.sampled_from([wire.VARINT, wire.FIXED64, wire.LEN, wire.SGROUP, wire.EGROUP, wire.FIXED32, 6, 7])

    def c(kind):
        return lambda data: Case(rpc_name, data, kind)

    options = [
        st.binary(max_size=256).map(c("raw:random")),
        st.tuples(base, st.floats(0, 1)).map(lambda t: t[0][: max(0, min(len(t[0]) - 1, int(len(t[0]) * t[1])))]).map(
            c("raw:truncated")),
        st.tuples(base, st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=4)).map(
            lambda t: _flip(t[0], t[1])).map(c("raw:bitflip")),
        st.tuples(base, st.sampled_from(strings), st.text(max_size=8), st.sampled_from(wire.INVALID_UTF8),
                  st.text(max_size=8)).map(
            lambda t: t[0] + wire.f_len(t[1].number, t[2].encode() + t[3] + t[4].encode())).map(c("raw:utf8")),
        st.tuples(base, field, wt, st.binary(max_size=16)).filter(lambda t: t[2] != _DECLARED.get(t[1].type, 0)).map(
            lambda t: t[0] + wire.wrong_type(t[1].number, _DECLARED.get(t[1].type, 0), t[2], t[3])).map(
            c("raw:wiretype")),
        st.tuples(base, st.sampled_from(fields), st.integers(0, 0x7F)).map(
            lambda t: t[0] + wire.tag(t[1].number, t[2] & 7) + bytes([t[2]]) * 2).map(c("raw:tag")),
        st.tuples(base, st.sampled_from(fields), st.integers(1, 2**32), st.binary(max_size=8)).map(
            lambda t: t[0] + wire.tag(t[1].number, wire.LEN) + wire.varint(t[2]) + t[3]).map(c("raw:length")),
        st.tuples(st.integers(1, 2**29 - 1), st.integers(1, 300)).map(
            lambda t: wire.nested_groups(t[0], t[1])).map(c("raw:groups")),
        st.tuples(base, st.sampled_from([0, 1 << 29, (1 << 29) - 1, 19000, 19999, 100, 15, 16, 2047])).map(
            lambda t: t[0] + wire.f_varint(t[1], 1) if t[1] < (1 << 29) else t[0] + wire.varint(t[1] << 3)).map(
            c("raw:fieldnum")),
        st.tuples(base, st.sampled_from([0, 10, 1 << 16, 1 << 20])).map(
            lambda t: t[0] + wire.f_len(4321, b"\xab" * t[1])).map(c("raw:unknown")),
        st.tuples(base, st.sampled_from(fields), st.integers(11, 14)).map(
            lambda t: t[0] + wire.tag(t[1].number, wire.VARINT) + wire.overlong_varint(1, t[2])).map(
            c("raw:overlong")),
    ]
    if varints:
        options.append(st.tuples(base, st.sampled_from(varints), st.one_of(st.sampled_from(VARINTS),
                                                                         st.integers(-(2**63), 2**64 - 1))).map(
            lambda t: t[0] + wire.f_varint(t[1].number, t[2])).map(c("raw:varint")))
        options.append(st.tuples(base, st.sampled_from(varints), st.lists(st.sampled_from(VARINTS), max_size=4)).map(
            lambda t: t[0] + wire.f_len(t[1].number, b"".join(wire.varint(v) for v in t[2]))).map(c("raw:packed")))
    if floats:
        options.append(st.tuples(base, st.sampled_from(floats), st.one_of(st.sampled_from(NAN_BITS),
                                                                        st.integers(0, 2**32 - 1))).map(
            lambda t: t[0] + wire.f_float_bits(t[1].number, t[2])).map(c("raw:float")))
    if rpc_name == "Verify":
        options.append(st.tuples(media_bytes(), artifact_uri(), st.booleans()).map(
            lambda t: (wire.f_len(1, t[0]) + wire.f_len(2, t[1].encode())) if t[2]
            else (wire.f_len(2, t[1].encode()) + wire.f_len(1, t[0]))).map(c("raw:oneof")))
    if strings:
        options.append(st.tuples(base, st.sampled_from(strings), st.sampled_from(
            [b"\xed\xa0\x80\xed\xb0\x80", b"\xef\xbf\xbe", b"\xf4\x8f\xbf\xbf", b"\x00" * 8, b"\xc0\x80"])).map(
            lambda t: t[0] + wire.f_len(t[1].number, t[2])).map(c("raw:utf8")))
    return st.one_of(options)


def typed_case(rpc: str) -> st.SearchStrategy[Case]:
    return typed_request(rpc).map(lambda m: _typed_case(rpc, m))


def valid_case(rpc: str) -> st.SearchStrategy[Case]:
    return valid_request(rpc).map(lambda m: Case(rpc, m.SerializeToString(), "valid", GENERATION_TIMEOUT_S))


def rare_case(rpc: str) -> st.SearchStrategy[Case]:
    """Large payloads for ClassifyImage and Verify (the 20 MB image limit, a 49 MP bomb)."""
    def build(t):
        data, name = t
        msg = spb.ClassifyImageRequest(image=data) if rpc == "ClassifyImage" else ppb.VerifyRequest(data=data)
        return Case(rpc, msg.SerializeToString(), "large", 120.0, name)
    return rare_media().map(build)


def case(rpc: str) -> st.SearchStrategy[Case]:
    """Any case for `rpc`: typed (valid-ish and boundary values) or raw wire bytes."""
    return st.one_of(typed_case(rpc), raw_case(rpc))
