"""Protobuf wire format by hand: what a well-behaved serializer never produces.

Wire types: 0 varint, 1 fixed64, 2 length-delimited, 3 start group, 4 end group, 5 fixed32.
"""

from __future__ import annotations

import struct

VARINT, FIXED64, LEN, SGROUP, EGROUP, FIXED32 = 0, 1, 2, 3, 4, 5
MAX_FIELD_NUMBER = (1 << 29) - 1


def varint(value: int) -> bytes:
    """Base-128 varint of `value` taken modulo 2^64 (negative numbers: the 10-byte two's complement)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def overlong_varint(value: int, length: int) -> bytes:
    """`value` as a varint padded with continuation bytes to `length` bytes (>10: invalid)."""
    plain = bytearray(varint(value))
    while len(plain) < length:
        plain[-1] |= 0x80
        plain.append(0)
    return bytes(plain)


def tag(field: int, wire_type: int) -> bytes:
    return varint((field << 3) | wire_type)


def f_varint(field: int, value: int) -> bytes:
    return tag(field, VARINT) + varint(value)


def f_len(field: int, payload: bytes) -> bytes:
    return tag(field, LEN) + varint(len(payload)) + payload


def f_fixed32(field: int, payload: bytes) -> bytes:
    return tag(field, FIXED32) + payload[:4].ljust(4, b"\0")


def f_fixed64(field: int, payload: bytes) -> bytes:
    return tag(field, FIXED64) + payload[:8].ljust(8, b"\0")


def f_float(field: int, value: float) -> bytes:
    return f_fixed32(field, struct.pack("<f", value))


def f_float_bits(field: int, bits: int) -> bytes:
    return f_fixed32(field, struct.pack("<I", bits & 0xFFFFFFFF))


def f_group(field: int, inner: bytes = b"") -> bytes:
    return tag(field, SGROUP) + inner + tag(field, EGROUP)


def nested_groups(field: int, depth: int) -> bytes:
    """`depth` start-group tags, then as many end-group tags (deep recursion in the parser)."""
    return tag(field, SGROUP) * depth + tag(field, EGROUP) * depth


def wrong_type(field: int, correct: int, wire_type: int, payload: bytes) -> bytes:
    """Field `field` encoded with `wire_type` instead of its declared `correct` one."""
    if wire_type == VARINT:
        return f_varint(field, int.from_bytes(payload[:8].ljust(8, b"\0"), "little"))
    if wire_type == FIXED64:
        return f_fixed64(field, payload)
    if wire_type == FIXED32:
        return f_fixed32(field, payload)
    if wire_type == SGROUP:
        return f_group(field)
    if wire_type == EGROUP:
        return tag(field, EGROUP)
    return f_len(field, payload)


INVALID_UTF8 = (
    b"\xff", b"\xfe\xff", b"\xc3", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xe2\x82", b"\xf0\x28\x8c\xbc",
    b"\xf0\x90\x28\xbc", b"\xf8\xa1\xa1\xa1\xa1", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80",  # overlong, surrogate
    b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"a\x80b", b"prompt \xff\xfe", b"\xc1\xbf",
)
