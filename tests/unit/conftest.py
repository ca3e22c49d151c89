"""Shared fixtures for unit tests: tiny presets built once per session into a temp cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engines.registry import ModelSpec

TINY = ("tiny-sd", "tiny-sdxl", "tiny-sd3", "tiny-flux")


@pytest.fixture(scope="session", autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


def tiny_spec(name: str) -> ModelSpec:
    return ModelSpec(name=name, source=f"preset:{name}")
