"""The Serve application builder: `import_path: services.app:build_app` in the Serve config.

Validates the args once (AppConfig) and binds one deployment per stage, each with its own
autoscaling, actor resources and admission limits from the config. VideoGenerator and
AudioGenerator are bound only when `video_models` / `audio_models` are configured.
"""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from services.audio_generator import AudioGenerator
from services.config import AppConfig
from services.denoiser import Denoiser
from services.ingress import Ingress
from services.provenance import Provenance
from services.safety import Safety
from services.text_encoder import TextEncoder
from services.vae_decoder import VAEDecoder
from services.video_generator import VideoGenerator


def build_app(args: dict[str, Any]) -> Application:
    """Builds the genmedia app from the Serve config's `args`. Raises pydantic.ValidationError."""
    config = AppConfig.model_validate(args)
    if config.storage.backend == "local":
        root = config.storage.local_root.expanduser().resolve()
        config = config.model_copy(update={"storage": config.storage.model_copy(update={"local_root": root})})
    safety = Safety.options(**config.safety.serve_options()).bind(config)
    provenance = Provenance.options(**config.provenance.serve_options()).bind(config)
    text_encoder = TextEncoder.options(**config.text_encoder.serve_options()).bind(config)
    denoiser = Denoiser.options(**config.denoiser.serve_options()).bind(config)
    vae_decoder = VAEDecoder.options(**config.vae_decoder.serve_options()).bind(config)
    # The video and audio generators exist only when the config names models for them.
    video = (VideoGenerator.options(**config.video_generator.serve_options()).bind(config)
             if config.video_models else None)
    audio = (AudioGenerator.options(**config.audio_generator.serve_options()).bind(config)
             if config.audio_models else None)
    return Ingress.options(**config.ingress.serve_options()).bind(config, safety, text_encoder, denoiser, vae_decoder,
                                                                  provenance, video, audio)
