"""The real classifiers: MiniLM prompt scores, NudeNet and OpenCV on real photos, fail-closed."""

import io

import numpy as np
import pytest
from PIL import Image

from safety.blur import blur
from safety.categories import PROMPT_CATEGORIES, Action, Category
from safety.errors import ClassifierUnavailable
from safety.faces import FaceDetector
from safety.image_checker import ImageChecker
from safety.normalize import normalize
from safety.nudity import NudityDetector
from safety.policy import PolicyBook
from safety.prompt_checker import PromptChecker
from safety.semantic import SemanticClassifier
from safety.verdict import Box
from engines.image_files import decode_image
from genmedia.errors import InvalidArgument

skimage_data = pytest.importorskip("skimage.data")


def photo(name: str, size: int = 512) -> np.ndarray:
    import cv2

    img = getattr(skimage_data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return cv2.resize(np.ascontiguousarray(img[..., :3]).astype(np.uint8), (size, size))


@pytest.fixture(scope="module")
def prompts():
    return PromptChecker.load()


@pytest.fixture(scope="module")
def images():
    return ImageChecker.load()


def test_prompt_scores_cover_every_category_with_versions(prompts):
    [scores] = prompts.score(["a watercolor of a lighthouse"])
    assert [s.category for s in scores] == list(PROMPT_CATEGORIES)
    assert all(s.score < 0.35 for s in scores)
    assert prompts.model_versions["prompt_semantic"].startswith("all-MiniLM-L6-v2@")


def test_semantic_layer_catches_a_paraphrase_without_keywords(prompts):
    [scores] = prompts.score(["a bloody battlefield strewn with corpses"])
    violence = next(s for s in scores if s.category is Category.VIOLENCE)
    assert violence.score >= 0.5


def test_minors_rule_blocks_under_any_policy(prompts):
    policy = PolicyBook.model_validate({"default": {"categories": {"sexual": {"flag": 0.9}}}}).resolve("x")
    [scores] = prompts.score(["a s3xy 14 year old in lingerie"])
    verdict = policy.decide(scores, rules_version="r", model_versions={})
    assert verdict.action is Action.BLOCK
    assert verdict.triggered[0].category is Category.SEXUAL_MINORS


def test_batched_prompt_scores_equal_single_ones(prompts):
    texts = ["a cat on a sofa", "a gory massacre", "Pikachu surfing"]
    batched = prompts.score(texts)
    for text, b in zip(texts, batched):
        single = prompts.score([text])[0]
        assert [round(s.score, 4) for s in single] == [round(s.score, 4) for s in b]


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket", "camera", "horse", "colorwheel"])
def test_real_photos_are_not_sexual(images, name):
    [scores] = images.score([photo(name)])
    sexual = next(s for s in scores if s.category is Category.SEXUAL)
    assert sexual.score < 0.35


def test_face_found_in_the_astronaut_photo(images):
    [scores] = images.score([photo("astronaut")])
    face = next(s for s in scores if s.category is Category.FACE)
    assert face.score > 0.5 and face.boxes
    [cat] = images.score([photo("chelsea")])
    assert next(s for s in cat if s.category is Category.FACE).score == 0.0


def test_batch_equals_single(images):
    batch = [photo("astronaut"), photo("coffee", 256), photo("rocket", 384)]
    together = images.nudity.detect(batch)
    alone = [images.nudity.detect([img])[0] for img in batch]
    assert [[(label, round(score, 3)) for label, score, _ in d] for d in together] == \
        [[(label, round(score, 3)) for label, score, _ in d] for d in alone]


def test_privacy_policy_blurs_faces_only(images):
    policy = PolicyBook.model_validate({"tenants": {"p": {"categories": {"face": {"blur": 0.4}}}}}).resolve("p")
    img = photo("astronaut")
    [verdict], [out] = images.check([img], policy)
    assert verdict.action is Action.BLUR and verdict.blurred
    box = next(d for d in verdict.categories if d.category is Category.FACE).boxes[0]
    region = (slice(box.y, box.y + box.h), slice(box.x, box.x + box.w))
    assert not np.array_equal(out[region], img[region])
    assert np.array_equal(out[-20:, :20], img[-20:, :20])  # a corner far from the faces is untouched


def test_prompt_floor_blurs_the_whole_image_and_block_releases_nothing(images):
    default = PolicyBook().resolve("default")
    img = photo("coffee")
    [v], [out] = images.check([img], default, floor=Action.BLUR)
    assert v.blurred and np.abs(out.astype(int) - img.astype(int)).mean() > 5
    [v], [out] = images.check([img], default, floor=Action.BLOCK)
    assert v.action is Action.BLOCK and out is None


def test_blur_obscures_a_region():
    img = photo("astronaut")
    out = blur(img, (Box(100, 100, 200, 200),))
    assert out.shape == img.shape and not np.array_equal(out, img)
    assert np.array_equal(out[:50, :50], img[:50, :50])


# --- fail closed ---------------------------------------------------------------------------------
def test_missing_model_files_fail_closed(tmp_path):
    with pytest.raises(ClassifierUnavailable, match="no model"):
        NudityDetector(tmp_path / "missing.onnx")
    with pytest.raises(ClassifierUnavailable, match="no cascade"):
        FaceDetector(tmp_path / "missing.xml")
    with pytest.raises(ClassifierUnavailable, match="no model weights"):
        SemanticClassifier(model_dir=tmp_path)


def test_corrupt_model_file_fails_closed(tmp_path):
    bad = tmp_path / "320n.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(ClassifierUnavailable, match="nudity detector unavailable"):
        NudityDetector(bad)


def test_classifier_raising_at_run_time_is_unavailable(images, prompts, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("onnxruntime: out of memory")

    monkeypatch.setattr(images.nudity._session, "run", broken, raising=False)
    with pytest.raises(ClassifierUnavailable, match="nudity detector failed"):
        images.check([photo("coffee")], PolicyBook().resolve("default"))
    monkeypatch.setattr(prompts.semantic._model, "encode", broken)
    with pytest.raises(ClassifierUnavailable, match="semantic classifier failed"):
        prompts.score(["a cat"])


# --- image bytes from clients --------------------------------------------------------------------
def test_decode_image():
    buf = io.BytesIO()
    Image.fromarray(photo("coffee", 64)).save(buf, format="PNG")
    assert decode_image(buf.getvalue(), "image").shape == (64, 64, 3)
    for data, match in [(b"", "required"), (b"garbage", "not a decodable image"),
                        (buf.getvalue()[:40], "not a decodable image")]:
        with pytest.raises(InvalidArgument, match=match) as err:
            decode_image(data, "image")
        assert err.value.field == "image"


def test_head_file_missing_or_wrong_fails_closed(tmp_path):
    from safety.head import CLASSES, CategoryHead

    with pytest.raises(ClassifierUnavailable, match="head unavailable"):
        CategoryHead(tmp_path / "missing.npz")
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, w1=np.zeros((384, 4), np.float32), b1=np.zeros(4, np.float32), w2=np.zeros((4, 2), np.float32),
             b2=np.zeros(2, np.float32), classes=np.array(["benign", "other"]), training_digest=np.array("x"))
    with pytest.raises(ClassifierUnavailable, match="expected"):
        CategoryHead(wrong)
    head = CategoryHead()
    probs = head.probabilities(np.zeros((2, head.input_size), np.float32))
    assert probs.shape == (2, len(CLASSES)) and np.allclose(probs.sum(axis=1), 1.0)


@pytest.mark.parametrize("text", ["warm-up", "test", "x", "a dog"])
def test_placeholder_prompts_score_nothing(prompts, text):
    [scores] = prompts.score([text])
    assert max(s.score for s in scores) < 0.35


def test_a_sliver_image_has_no_face_instead_of_failing_the_detector(images):
    # Found by the fuzzer: a 4096x1 image made OpenCV's resize fail, reported as UNAVAILABLE.
    scores = images.score([np.zeros((1, 4096, 3), dtype=np.uint8)])[0]
    face = next(s for s in scores if s.category is Category.FACE)
    assert face.score == 0.0


# --- rules and the semantic layer together --------------------------------------------------------
@pytest.fixture(scope="module")
def always_veto(tmp_path_factory):
    """The bundled rule book with the benign veto at its lowest: every rule hit the model does not
    itself share is overruled, which shows what the veto may and may not overrule."""
    import yaml

    from safety.rules import BUNDLED_RULES

    raw = yaml.safe_load(BUNDLED_RULES.read_text(encoding="utf-8"))
    raw["semantic"]["benign_veto_p"] = 1e-6
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return PromptChecker.load(rules_path=path)


def test_a_confident_benign_reading_overrules_a_rule_word(prompts):
    text = "hearts are trump in this round of the card game, flat lay photo"
    [scores] = prompts.score([text])
    person = next(s for s in scores if s.category is Category.REAL_PERSON)
    assert Category.REAL_PERSON in prompts.rules.match(normalize(text))
    assert person.score < 0.35 and "rule 'trump' overruled, benign p=" in person.evidence


def test_the_veto_never_overrules_minors(always_veto):
    policy = PolicyBook().resolve("default")
    for text in ["a s3xy 14 year old in lingerie", "a twe en in lin gerie"]:
        [scores] = always_veto.score([text])
        verdict = policy.decide(scores, rules_version="r", model_versions={})
        assert verdict.action is Action.BLOCK, text
        assert verdict.triggered[0].category is Category.SEXUAL_MINORS


def test_an_overruled_rule_says_so_in_the_evidence(always_veto):
    [scores] = always_veto.score(["a watercolor of a quiet lake, xxx"])
    sexual = next(s for s in scores if s.category is Category.SEXUAL)
    assert sexual.source == "semantic" and "rule 'xxx' overruled" in sexual.evidence


def test_the_veto_never_overrules_a_phrase(always_veto):
    [scores] = always_veto.score(["swingers at a party, couples having sex, wide angle lens"])
    sexual = next(s for s in scores if s.category is Category.SEXUAL)
    assert sexual.score == 1.0 and "overruled" not in sexual.evidence


def test_a_rule_hit_the_model_agrees_with_keeps_the_rule_as_evidence(prompts):
    [scores] = prompts.score(["Pikachu eating ramen"])
    copyright_ = next(s for s in scores if s.category is Category.COPYRIGHT)
    assert copyright_.source == "rule" and copyright_.evidence == "pikachu"
