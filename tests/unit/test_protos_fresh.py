"""The committed generated code matches what scripts/gen_protos.py makes from protos/."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_code_is_fresh(tmp_path):
    subprocess.run([sys.executable, str(REPO / "scripts" / "gen_protos.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert generated, "protoc produced nothing"
    stale = [str(rel) for rel in generated if (REPO / rel).read_bytes() != (tmp_path / rel).read_bytes()]
    assert not stale, f"stale generated files (run: python scripts/gen_protos.py): {stale}"


def test_every_proto_field_is_documented():
    """Each field and message in the public API carries a comment (the proto is the API doc)."""
    from genmedia.v1 import generation_pb2

    source = (REPO / "protos" / "genmedia" / "v1" / "generation.proto").read_text().splitlines()
    undocumented = []
    def messages(descriptors):
        for message in descriptors:
            yield message
            yield from messages(message.nested_types)

    for message in messages(generation_pb2.DESCRIPTOR.message_types_by_name.values()):
        for field in message.fields:
            line = next(i for i, text in enumerate(source) if f" {field.name} = {field.number};" in text)
            above = source[line - 1].strip()
            if not above.startswith("//"):
                undocumented.append(f"{message.name}.{field.name}")
    assert not undocumented, undocumented
