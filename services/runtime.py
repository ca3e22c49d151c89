"""Per-replica process setup shared by the stage deployments."""

from __future__ import annotations

import logging

import torch

from services.config import DeploymentSettings


def configure_replica(settings: DeploymentSettings) -> None:
    """Applies thread settings before any model is loaded (torch fixes its pool on first use)."""
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    logging.getLogger("genmedia").setLevel(logging.INFO)
