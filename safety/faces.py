"""Face detection with OpenCV's bundled Haar cascade (frontal faces), for privacy policies.

The score of an image is the strongest face's confidence: the cascade's neighbour count
(how many overlapping windows agreed) mapped to 0..1 as n / (n + 10), so a face found by the
minimum 6 neighbours scores 0.38 and a clear face (30+ neighbours) about 0.75 or more.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safety.categories import Category
from safety.errors import ClassifierUnavailable
from safety.verdict import Box, CategoryScore

CASCADE = "haarcascade_frontalface_default.xml"
MIN_NEIGHBORS = 6
MIN_FACE_FRACTION = 0.06  # faces smaller than 6% of the shorter side are ignored
DETECT_SIDE = 320         # images are searched at this longer side (4x faster at 512 px), boxes scaled back
MIN_DETECTABLE_SIDE = 20  # the cascade's smallest window: a thinner image (after scaling) cannot hold a face


class FaceDetector:
    def __init__(self, cascade_path: Path | None = None):
        import cv2

        path = Path(cascade_path) if cascade_path is not None else Path(cv2.data.haarcascades) / CASCADE
        if not path.is_file():
            raise ClassifierUnavailable(f"face detector unavailable: no cascade at {path}")
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ClassifierUnavailable(f"face detector unavailable: cannot load {path}")
        self.version = f"opencv-{cv2.__version__}-{path.stem}"

    def score(self, image: np.ndarray) -> CategoryScore:
        import cv2

        try:
            gray = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
            scale = min(1.0, DETECT_SIDE / max(gray.shape))
            if min(gray.shape) * scale < MIN_DETECTABLE_SIDE:  # a sliver (e.g. 4096x1) holds no face
                return CategoryScore(Category.FACE, 0.0, "opencv-haar")
            if scale < 1.0:
                gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            gray = cv2.equalizeHist(gray)
            side = max(20, int(min(gray.shape) * MIN_FACE_FRACTION))
            rects, neighbours = self._cascade.detectMultiScale2(
                gray, scaleFactor=1.1, minNeighbors=MIN_NEIGHBORS, minSize=(side, side))
        except cv2.error as exc:
            raise ClassifierUnavailable(f"face detector failed: {exc.code}") from exc
        if len(rects) == 0:
            return CategoryScore(Category.FACE, 0.0, "opencv-haar")
        n = int(np.max(neighbours))
        boxes = tuple(Box(int(x / scale), int(y / scale), int(w / scale), int(h / scale)) for x, y, w, h in rects)
        return CategoryScore(Category.FACE, n / (n + 10), "opencv-haar", f"{len(rects)} face(s)", boxes)
