"""Nudity detection with NudeNet's pretrained detector (the ONNX model shipped in `nudenet`).

Runs the model with ONNX Runtime on a batch of images at once: each image is padded to a square,
resized to the model's 320x320 input, and the detections are mapped back to the image's pixels.
Exposed breasts, genitalia, buttocks and anus map to the `sexual` category, scored by the most
confident detection; covered parts and faces are reported by class but do not score.

A detection of an exposed part only counts when its box is at least `MIN_SKIN_FRACTION` skin
(the classic YCrCb skin range): the detector alone finds "buttocks" in a synthetic colour wheel
with 0.83 confidence, and exposed skin is what the category is about.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from safety.categories import Category
from safety.errors import ClassifierUnavailable
from safety.verdict import Box, CategoryScore

INPUT_SIZE = 320
MIN_SCORE = 0.2     # detections below this are dropped before NMS (NudeNet's own setting)
NMS_IOU = 0.45
MIN_SKIN_FRACTION = 0.15
LABELS = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED",
    "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
)
SEXUAL_LABELS = frozenset({
    "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
})


def bundled_model_path() -> Path:
    import nudenet

    return Path(nudenet.__file__).parent / "320n.onnx"


class NudityDetector:
    """Batched NudeNet. Raises ClassifierUnavailable when the model is missing or fails."""

    def __init__(self, model_path: Path | None = None, threads: int = 1):
        path = Path(model_path) if model_path is not None else bundled_model_path()
        if not path.is_file():
            raise ClassifierUnavailable(f"nudity detector unavailable: no model at {path}")
        try:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - a model that cannot load cannot classify
            raise ClassifierUnavailable(f"nudity detector unavailable: {type(exc).__name__}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self.version = f"nudenet-320n@{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"

    @staticmethod
    def _prepare(image: np.ndarray) -> tuple[np.ndarray, float]:
        import cv2

        h, w = image.shape[:2]
        side = max(h, w)
        square = np.zeros((side, side, 3), dtype=np.uint8)
        square[:h, :w] = image[..., :3]
        resized = cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        return resized.astype(np.float32).transpose(2, 0, 1) / 255.0, side / INPUT_SIZE

    def detect(self, images: list[np.ndarray]) -> list[list[tuple[str, float, Box]]]:
        """Detections (label, score, box) per RGB uint8 image, one forward for the whole batch."""
        if not images:
            return []
        try:
            prepared = [self._prepare(img) for img in images]
            batch = np.stack([p[0] for p in prepared])
            output = self._session.run(None, {self._input: batch})[0]  # (B, 4 + classes, anchors)
        except Exception as exc:  # noqa: BLE001
            raise ClassifierUnavailable(f"nudity detector failed: {type(exc).__name__}") from exc
        return [self._postprocess(output[i], prepared[i][1], images[i].shape[:2]) for i in range(len(images))]

    @staticmethod
    def _postprocess(raw: np.ndarray, scale: float, shape: tuple[int, int]) -> list[tuple[str, float, Box]]:
        import cv2

        rows = raw.T  # (anchors, 4 + classes)
        class_scores = rows[:, 4:]
        best = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(rows)), best]
        keep = scores >= MIN_SCORE
        if not keep.any():
            return []
        rows, best, scores = rows[keep], best[keep], scores[keep]
        h, w = shape
        boxes = []
        for cx, cy, bw, bh in rows[:, :4]:
            x, y = (cx - bw / 2) * scale, (cy - bh / 2) * scale
            x, y = max(0.0, min(float(x), w)), max(0.0, min(float(y), h))
            boxes.append([x, y, min(float(bw * scale), w - x), min(float(bh * scale), h - y)])
        indices = cv2.dnn.NMSBoxes(boxes, scores.tolist(), MIN_SCORE, NMS_IOU)
        out = []
        for i in np.asarray(indices).reshape(-1):
            x, y, bw, bh = boxes[i]
            out.append((LABELS[best[i]], float(scores[i]), Box(int(x), int(y), int(round(bw)), int(round(bh)))))
        return out

    @staticmethod
    def skin_fraction(image: np.ndarray, box: Box) -> float:
        """Share of the box's pixels in the YCrCb skin range (Cr 133..173, Cb 77..127)."""
        import cv2

        region = np.ascontiguousarray(image[box.y:box.y + box.h, box.x:box.x + box.w, :3])
        if region.size == 0:
            return 0.0
        ycrcb = cv2.cvtColor(region, cv2.COLOR_RGB2YCrCb)
        cr, cb = ycrcb[..., 1], ycrcb[..., 2]
        return float(((cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)).mean())

    @classmethod
    def sexual_score(cls, detections: list[tuple[str, float, Box]], image: np.ndarray) -> CategoryScore:
        hits = [(label, score, box) for label, score, box in detections
                if label in SEXUAL_LABELS and cls.skin_fraction(image, box) >= MIN_SKIN_FRACTION]
        if not hits:
            return CategoryScore(Category.SEXUAL, 0.0, "nudenet")
        top = max(hits, key=lambda h: h[1])
        return CategoryScore(Category.SEXUAL, top[1], "nudenet", top[0].lower(), tuple(h[2] for h in hits))
