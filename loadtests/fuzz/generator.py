"""Turns the hypothesis strategies into a fast, seeded stream of cases.

Hypothesis draws are thorough but cost milliseconds each (tens of ms on a loaded 2-core machine),
so a run draws a pool of seed cases per RPC through hypothesis (`fuzz_one_input`, the hook meant
for driving a test from an external fuzzer; deterministic for a given buffer) and derives most
requests from the pool with cheap wire-level mutators: splicing two messages (protobuf merges
them, last field wins), appending a hostile field, truncating, flipping or inserting bytes, and
setting one field of a parsed message to a boundary value. A share of every RPC's requests is
always a fresh hypothesis draw, and the pool keeps growing with them.

Generation requests that come out parseable and plausibly valid are capped (strategies.cheap),
so no case makes the service generate anything large.
"""

from __future__ import annotations

import random
import warnings
from collections import defaultdict

from google.protobuf.descriptor import FieldDescriptor as FD
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import HypothesisWarning

from loadtests.fuzz import strategies as S
from loadtests.fuzz import wire
from loadtests.fuzz.rpcs import RPCS
from loadtests.fuzz.strategies import Case

# Share of the requests per RPC (the rest of the mix is spread evenly).
RPC_WEIGHTS = {"GenerateImage": 12, "StreamImage": 8, "GenerateVideo": 10, "StreamVideo": 6, "GenerateAudio": 10,
               "StreamAudio": 6, "GetGeneration": 8, "ClassifyPrompt": 8, "ClassifyImage": 9, "Verify": 9,
               "GetRecord": 7, "Check": 7}
# Per RPC: probability that a request is a valid (meant to succeed) one; generation is kept rare.
VALID_SHARE = {"GenerateImage": 0.004, "StreamImage": 0.004, "GenerateVideo": 0.002, "StreamVideo": 0.002,
               "GenerateAudio": 0.001, "StreamAudio": 0.001, "ClassifyImage": 0.02, "Verify": 0.02,
               "GetGeneration": 0.1, "GetRecord": 0.1, "ClassifyPrompt": 0.05, "Check": 0.05}
LARGE_SHARE = {"ClassifyImage": 0.0015, "Verify": 0.0015}
FRESH_SHARE = 0.04  # fresh hypothesis draws among the other requests
POOL_LIMIT = 400  # seed cases kept per RPC


class Drawer:
    """Draws values of a hypothesis strategy from a seeded stream of random buffers."""

    def __init__(self, strategy):
        self._box: list = []

        @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck), max_examples=1)
        @given(strategy)
        def capture(value):
            self._box.append(value)

        self._capture = capture

    def draw(self, rng: random.Random):
        for _ in range(50):
            self._box.clear()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", HypothesisWarning)  # "overly large repr" of huge strings
                self._capture.hypothesis.fuzz_one_input(rng.randbytes(4096))
            if self._box:
                return self._box[0]
        raise RuntimeError("hypothesis rejected 50 buffers in a row")


class CaseGenerator:
    """`next()` -> the next Case; deterministic for a seed (and the same KNOWN ids/URIs)."""

    def __init__(self, seed: int = 0, rpcs: list[str] | None = None, fresh_share: float = FRESH_SHARE,
                 pool_seeds: int = 12, large: bool = True):
        self.rng = random.Random(seed)
        self.rpcs = rpcs or list(RPCS)
        self.weights = [RPC_WEIGHTS.get(r, 5) for r in self.rpcs]
        self.fresh_share = fresh_share
        self.large = large
        self.pool: dict[str, list[Case]] = defaultdict(list)  # parseable seeds
        self.raw_pool: dict[str, list[Case]] = defaultdict(list)  # unparseable seeds
        self._drawers: dict[tuple[str, str], Drawer] = {}
        for rpc in self.rpcs:  # a few seeds per RPC before mutating
            for _ in range(pool_seeds):
                self._remember(self._draw(rpc, "case"))

    def _drawer(self, rpc: str, family: str) -> Drawer:
        key = (rpc, family)
        if key not in self._drawers:
            strategy = {"case": S.case, "valid": S.valid_case, "large": S.rare_case}[family](rpc)
            self._drawers[key] = Drawer(strategy)
        return self._drawers[key]

    def _draw(self, rpc: str, family: str) -> Case:
        return self._drawer(rpc, family).draw(self.rng)

    def _remember(self, case: Case) -> None:
        try:
            RPCS[case.rpc].request.FromString(case.data)
            pool = self.pool[case.rpc]
        except Exception:  # noqa: BLE001
            pool = self.raw_pool[case.rpc]
        if len(pool) < POOL_LIMIT:
            pool.append(case)
        else:
            pool[self.rng.randrange(POOL_LIMIT)] = case

    def next(self) -> Case:
        rpc = self.rng.choices(self.rpcs, self.weights)[0]
        r = self.rng.random()
        if self.large and r < LARGE_SHARE.get(rpc, 0.0):
            return self._draw(rpc, "large")
        r = self.rng.random()
        if r < VALID_SHARE.get(rpc, 0.0):
            return self._draw(rpc, "valid")
        if r < VALID_SHARE.get(rpc, 0.0) + self.fresh_share:
            case = self._draw(rpc, "case")
            self._remember(case)
            return case
        pool = self.pool[rpc] if self.pool[rpc] and (self.rng.random() < 0.85 or not self.raw_pool[rpc]) \
            else self.raw_pool[rpc]
        return self.mutate(self.rng.choice(pool))

    # --- mutators ------------------------------------------------------------------------------
    def mutate(self, case: Case) -> Case:
        rng = self.rng
        # Byte-level mutators mostly make unparseable messages (rejected before genmedia code runs);
        # setfield keeps the message parseable and reaches validation and the stages.
        op = rng.choices(["asis", "splice", "append", "truncate", "flip", "insert", "setfield"],
                         [1, 2, 2, 1, 1, 1, 14])[0]
        data = case.data
        if op == "splice":
            other = rng.choice(self.pool[case.rpc] or self.raw_pool[case.rpc]).data
            data = data + other if rng.random() < 0.5 else other + data
        elif op == "append":
            data = data + self._fragment(case.rpc)
        elif op == "truncate" and data:
            data = data[: rng.randrange(len(data))]
        elif op == "flip" and data:
            out = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(out))
                out[i] = rng.choice([out[i] ^ (1 << rng.randrange(8)), rng.randrange(256), 0xFF, 0x00, 0x80])
            data = bytes(out)
        elif op == "insert":
            i = rng.randrange(len(data) + 1)
            data = data[:i] + rng.randbytes(rng.randint(1, 8)) + data[i:]
        elif op == "setfield":
            data = self._set_field(case.rpc, data)
        return self._capped(Case(case.rpc, data, f"mut:{op}"))

    def _capped(self, case: Case) -> Case:
        """Parseable, plausibly valid generation requests get capped costs and a longer deadline."""
        request = RPCS[case.rpc].request
        if request.__name__ not in ("ImageRequest", "VideoRequest", "AudioRequest"):
            return case
        try:
            msg = request.FromString(case.data)
        except Exception:  # noqa: BLE001 - unparseable: rejected before any work
            return case
        if not S.plausibly_valid(msg):
            return case
        return Case(case.rpc, S.cheap(msg).SerializeToString(), case.kind, S.GENERATION_TIMEOUT_S)

    def _fragment(self, rpc: str) -> bytes:
        """One hostile field for `rpc`'s request."""
        rng = self.rng
        fields = list(RPCS[rpc].request.DESCRIPTOR.fields)
        f = rng.choice(fields)
        kind = rng.randrange(8)
        if kind == 0:
            return wire.f_varint(f.number, rng.choice(S.VARINTS + S.U32 + S.U64))
        if kind == 1:
            return wire.f_len(f.number, rng.choice(wire.INVALID_UTF8))
        if kind == 2:
            return wire.f_float_bits(f.number, rng.choice(S.NAN_BITS + [rng.getrandbits(32)]))
        if kind == 3:
            return wire.f_len(f.number, rng.choice(S.SPICE).encode() * rng.choice([1, 2, 100, 3000]))
        if kind == 4:
            return wire.wrong_type(f.number, 0, rng.choice([1, 2, 3, 4, 5, 6, 7]), rng.randbytes(8))
        if kind == 5:
            return wire.tag(f.number, wire.LEN) + wire.varint(rng.choice([1 << 31, 1 << 20, 100, 2**64 - 1]))
        if kind == 6:
            return wire.nested_groups(rng.randint(1, 2**29 - 1), rng.choice([1, 64, 101, 1000]))
        return wire.tag(rng.choice([0, f.number]), rng.randrange(8)) + rng.randbytes(rng.randint(0, 4))

    def _set_field(self, rpc: str, data: bytes) -> bytes:
        """Parses `data` and sets one field to a boundary value; random-field bytes when unparseable."""
        rng = self.rng
        request = RPCS[rpc].request
        try:
            msg = request.FromString(data)
        except Exception:  # noqa: BLE001
            return data + self._fragment(rpc)
        f = rng.choice(list(request.DESCRIPTOR.fields))
        try:
            if f.type == FD.TYPE_STRING:
                setattr(msg, f.name, rng.choice([
                    "", " ", rng.choice(S.SPICE), rng.choice(S.SAFE_PROMPTS) + rng.choice(S.SPICE),
                    rng.choice(S.HUGE_UNITS) * rng.choice(S.HUGE_LENGTHS), rng.choice(S.MODEL_NAMES),
                    S.KNOWN.pick_id(rng.randrange(10**6)), S.KNOWN.pick_uri(rng.randrange(10**6))]))
            elif f.type == FD.TYPE_BYTES:
                from loadtests.fuzz import media
                files = media.corpus()
                setattr(msg, f.name, files[rng.choice(sorted(files))][: rng.choice([None, rng.randrange(1, 5000)])])
            elif f.type == FD.TYPE_UINT32:
                setattr(msg, f.name, rng.choice(S.U32))
            elif f.type == FD.TYPE_UINT64:
                setattr(msg, f.name, rng.choice(S.U64))
            elif f.type == FD.TYPE_FLOAT:
                setattr(msg, f.name, rng.choice(S.FLOATS))
            elif f.type == FD.TYPE_ENUM:
                setattr(msg, f.name, rng.choice([*f.enum_type.values_by_number, -1, 99, 2**31 - 1]))
            elif f.type == FD.TYPE_BOOL:
                setattr(msg, f.name, not getattr(msg, f.name))
            if rng.random() < 0.15 and f.has_presence:
                msg.ClearField(f.name)
        except (ValueError, TypeError):
            pass
        return msg.SerializeToString()
