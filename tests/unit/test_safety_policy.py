"""Tenant policies: resolution, thresholds to actions, the minors rule, verdict objects."""

import pydantic
import pytest

from safety.categories import Action, Category
from safety.policy import CategoryThresholds, PolicyBook, TenantPolicy
from safety.verdict import Box, CategoryScore, Verdict


def scores(**values):
    return [CategoryScore(Category(k), v, "rule", k) for k, v in values.items()]


def test_thresholds_pick_the_most_severe_action_reached():
    t = CategoryThresholds(flag=0.3, blur=0.5, block=0.8)
    assert [t.action(s) for s in (0.1, 0.3, 0.6, 0.8, 1.0)] == [
        Action.ALLOW, Action.FLAG, Action.BLUR, Action.BLOCK, Action.BLOCK]
    assert CategoryThresholds().action(1.0) is Action.ALLOW


def test_default_policy():
    policy = PolicyBook().resolve("anyone")
    assert policy.name == "default"
    v = policy.decide(scores(violence=0.9, copyright=0.0), rules_version="r1", model_versions={"m": "1"})
    assert v.action is Action.BLOCK
    assert v.triggered[0].category is Category.VIOLENCE
    assert v.reason.startswith("violence (score 0.90")
    assert policy.decide(scores(copyright=1.0), rules_version="r", model_versions={}).action is Action.FLAG


def test_tenant_overrides_whole_categories_and_inherits_the_rest():
    book = PolicyBook.model_validate({
        "default": {"version": "7"},
        "tenants": {"kids": {"version": "2", "categories": {"violence": {"flag": 0.1, "block": 0.3},
                                                              "face": {"blur": 0.3}}}},
    })
    kids = book.resolve("kids")
    assert kids.name == "kids" and kids.version == "7+2"
    assert kids.decide(scores(violence=0.2), rules_version="r", model_versions={}).action is Action.FLAG
    assert kids.decide(scores(face=0.5), rules_version="r", model_versions={}).action is Action.BLUR
    assert kids.decide(scores(sexual=0.9), rules_version="r", model_versions={}).action is Action.BLOCK  # inherited
    other = book.resolve("adults")
    assert other.decide(scores(violence=0.2), rules_version="r", model_versions={}).action is Action.ALLOW
    assert other.decide(scores(face=0.9), rules_version="r", model_versions={}).action is Action.ALLOW


@pytest.mark.parametrize("minors", [{"flag": 0.1}, {"block": 0.9}, {}])
def test_minors_can_never_be_relaxed(minors):
    with pytest.raises(pydantic.ValidationError, match="sexual_minors"):
        TenantPolicy(categories={"sexual_minors": minors})
    with pytest.raises(pydantic.ValidationError, match="sexual_minors"):
        PolicyBook.model_validate({"tenants": {"t": {"categories": {"sexual_minors": minors}}}})


def test_unknown_keys_and_categories_are_rejected():
    with pytest.raises(pydantic.ValidationError):
        PolicyBook.model_validate({"default": {"categories": {"gore": {"block": 0.5}}}})
    with pytest.raises(pydantic.ValidationError):
        CategoryThresholds.model_validate({"block": 1.5})
    with pytest.raises(pydantic.ValidationError):
        CategoryThresholds.model_validate({"delete": 0.5})


def test_floor_raises_image_verdicts():
    policy = PolicyBook().resolve("default")
    v = policy.decide(scores(sexual=0.0, face=0.0), rules_version="r", model_versions={}, floor=Action.BLUR)
    assert v.action is Action.BLUR


def test_verdict_round_trips_through_its_dict_form():
    policy = PolicyBook().resolve("default")
    v = policy.decide([CategoryScore(Category.SEXUAL, 0.7, "nudenet", "female_breast_exposed", (Box(1, 2, 3, 4),))],
                      rules_version="image-1", model_versions={"nudity": "x@1"})
    again = Verdict.from_dict(v.to_dict())
    assert again == v
    assert again.categories[0].boxes == (Box(1, 2, 3, 4),)
    assert v.to_dict()["action"] == "block"
