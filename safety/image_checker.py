"""Image checks: nudity (NudeNet) and faces (OpenCV), batched, then the tenant policy.

    checker = ImageChecker.load()
    verdicts, released = checker.check(images, policy, floor=prompt_verdict.action)

`released[i]` is the image to store and return: the original, its blurred version when the
verdict is BLUR, or None when it is BLOCK. A prompt verdict of FLAG or BLUR is a floor for its
images (a blurred prompt blurs the whole image).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from safety.blur import blur
from safety.categories import Action
from safety.faces import FaceDetector
from safety.nudity import NudityDetector
from safety.policy import ResolvedPolicy
from safety.verdict import CategoryScore, Verdict

IMAGE_RULES_VERSION = "image-1"


class ImageChecker:
    def __init__(self, nudity: NudityDetector, faces: FaceDetector):
        self.nudity = nudity
        self.faces = faces

    @classmethod
    def load(cls, nudity_model=None, face_cascade=None, threads: int = 1) -> "ImageChecker":
        """Raises ClassifierUnavailable when a model file is missing or cannot load."""
        return cls(NudityDetector(nudity_model, threads=threads), FaceDetector(face_cascade))

    @property
    def model_versions(self) -> dict[str, str]:
        return {"nudity": self.nudity.version, "faces": self.faces.version}

    def score(self, images: list[np.ndarray]) -> list[list[CategoryScore]]:
        """Scores per image for the image categories. Raises ClassifierUnavailable."""
        detections = self.nudity.detect(images)
        return [[NudityDetector.sexual_score(d, img), self.faces.score(img)] for img, d in zip(images, detections)]

    def check(self, images: list[np.ndarray], policy: ResolvedPolicy, floor: Action = Action.ALLOW
              ) -> tuple[list[Verdict], list[np.ndarray | None]]:
        """Scores ``images`` in one batch and applies ``policy``; see `apply`."""
        pairs = [self.apply(img, s, policy, floor) for img, s in zip(images, self.score(images))]
        return [v for v, _ in pairs], [out for _, out in pairs]

    def apply(self, image: np.ndarray, scores: list[CategoryScore], policy: ResolvedPolicy,
              floor: Action = Action.ALLOW) -> tuple[Verdict, np.ndarray | None]:
        """The verdict on one scored image and the image to release: itself, blurred, or None."""
        verdict = policy.decide(scores, rules_version=IMAGE_RULES_VERSION, model_versions=self.model_versions,
                                floor=floor)
        if verdict.action is Action.BLOCK:
            return verdict, None
        if verdict.action is Action.BLUR:
            boxes = tuple(b for d in verdict.categories if d.action is Action.BLUR for b in d.boxes)
            whole = floor is Action.BLUR or not boxes
            blurred = blur(image, () if whole else boxes)
            return dataclasses.replace(verdict, blurred=True), blurred
        return verdict, image
