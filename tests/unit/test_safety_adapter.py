"""The encoder adapter: what training leaves merged in its model is what serving merges from the file."""

import sys
from pathlib import Path

import numpy as np
import pytest

from safety.adapter import TARGETS, merge_adapter, read_adapter, target_modules
from safety.errors import ClassifierUnavailable
from safety.head import CLASSES, HEAD_PATH
from safety.semantic import SemanticClassifier, bundled_model_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@pytest.fixture(scope="module")
def encoder():
    from sentence_transformers import SentenceTransformer

    return lambda: SentenceTransformer(str(bundled_model_dir()), device="cpu")


def test_the_shipped_head_carries_an_adapter_for_every_projection(encoder):
    with np.load(HEAD_PATH) as data:
        adapter, scale = read_adapter(data)
    bert = encoder()[0].auto_model
    assert sorted(adapter) == sorted(target_modules(bert))
    assert len(adapter) == len(bert.encoder.layer) * len(TARGETS) and scale > 0


def test_merge_adds_the_low_rank_update(encoder):
    bert = encoder()[0].auto_model
    path = "encoder.layer.0.attention.self.query"
    before = bert.get_submodule(path).weight.detach().numpy().copy()
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 384)).astype(np.float32), rng.normal(size=(384, 4)).astype(np.float32)
    assert merge_adapter(bert, {path: (a, b)}, 0.5) == 1
    after = bert.get_submodule(path).weight.detach().numpy()
    np.testing.assert_allclose(after, before + 0.5 * b @ a, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("path, a_shape, b_shape, match", [
    ("encoder.layer.9.attention.self.query", (4, 384), (384, 4), "does not have"),
    ("encoder.layer.0.intermediate.dense", (4, 384), (384, 4), "shapes"),
])
def test_an_adapter_for_another_encoder_is_refused(encoder, path, a_shape, b_shape, match):
    adapter = {path: (np.zeros(a_shape, np.float32), np.zeros(b_shape, np.float32))}
    with pytest.raises(ValueError, match=match):
        merge_adapter(encoder()[0].auto_model, adapter, 1.0)


def test_a_head_with_a_mismatched_adapter_fails_closed(tmp_path):
    with np.load(HEAD_PATH) as data:
        fields = {k: data[k] for k in data.files}
    fields["lora/encoder.layer.0.output.dense/a"] = np.zeros((8, 7), np.float32)
    bad = tmp_path / "head.npz"
    np.savez(bad, **fields)
    with pytest.raises(ClassifierUnavailable, match="semantic classifier unavailable: ValueError"):
        SemanticClassifier(head_path=bad)


def test_training_and_serving_embed_alike(encoder, tmp_path):
    from scripts.finetune_safety_encoder import finetune

    texts = ["a lighthouse at dusk", "a gory massacre", "a cat on a sofa", "a nude woman"] * 4
    labels = np.array([0, 3, 0, 1] * 4)
    trained = encoder()
    layers, adapter, scale = finetune(trained, texts, labels, n_classes=len(CLASSES), hidden=16, rank=2, epochs=1,
                                      batch_size=8, log=lambda _: None)
    assert layers[0][0].shape == (384, 16) and layers[1][0].shape == (16, len(CLASSES))
    served = encoder()
    merge_adapter(served[0].auto_model, adapter, scale)
    probe = ["a red bicycle leaning on a wall", "kill the lights"]
    np.testing.assert_allclose(served.encode(probe, normalize_embeddings=True),
                               trained.encode(probe, normalize_embeddings=True), atol=1e-5)
    assert not np.allclose(encoder().encode(probe, normalize_embeddings=True),
                           trained.encode(probe, normalize_embeddings=True), atol=1e-4)
