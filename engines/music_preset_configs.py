"""Configurations of the built-in MusicGen presets: plain data, no code.

Each preset is the three sub-configs of a transformers ``MusicgenConfig`` (``text_encoder``: T5,
``audio_encoder``: EnCodec, ``decoder``: the codebook-token transformer) plus the generation
defaults saved as ``generation_config.json``. They are part of each preset's fingerprint, so
changing a number here invalidates cached builds by itself. Treat these dicts as read-only.

The ``*-arch`` presets copy the real checkpoints: facebook/musicgen-small and -medium use the
t5-base text encoder and facebook/encodec_32khz (4 codebooks of 2048 at 50 Hz, 32 kHz audio) and
differ only in the decoder. ``tiny-musicgen`` keeps that geometry (32 kHz, 640-sample hop, so
50 frames per second; 4 codebooks, so the same delay pattern) with very few channels and layers.
"""

from __future__ import annotations

from typing import Any

MusicgenConfigs = dict[str, dict[str, Any]]

# --- full-size architectures (GPU benchmarks; never built in unit tests) ---------------------

# google-t5/t5-base, the text encoder of every MusicGen size.
_T5_BASE = {
    "vocab_size": 32128,
    "d_model": 768,
    "d_kv": 64,
    "d_ff": 3072,
    "num_layers": 12,
    "num_decoder_layers": 12,
    "num_heads": 12,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "relu",
    "layer_norm_epsilon": 1e-6,
    "dropout_rate": 0.1,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "decoder_start_token_id": 0,
}

# facebook/encodec_32khz: 640-sample hop (50 Hz), 4 codebooks of 2048 (2.2 kbps).
_ENCODEC_32KHZ = {
    "sampling_rate": 32000,
    "audio_channels": 1,
    "normalize": False,
    "chunk_length_s": None,
    "overlap": None,
    "hidden_size": 128,
    "num_filters": 64,
    "num_residual_layers": 1,
    "upsampling_ratios": [8, 5, 4, 4],
    "norm_type": "weight_norm",
    "kernel_size": 7,
    "last_kernel_size": 7,
    "residual_kernel_size": 3,
    "dilation_growth_rate": 2,
    "use_causal_conv": False,
    "pad_mode": "reflect",
    "compress": 2,
    "num_lstm_layers": 2,
    "trim_right_ratio": 1.0,
    "codebook_size": 2048,
    "codebook_dim": 128,
    "target_bandwidths": [2.2],
    "use_conv_shortcut": False,
}


def _decoder(hidden: int, layers: int, heads: int, *, codebook_size: int = 2048, **extra: Any) -> dict[str, Any]:
    """A MusicGen decoder as transformers' conversion script builds it: ffn = 4 x hidden, and the
    special (pad / start) token is one past the codebook, as in the real configs."""
    return {
        "vocab_size": codebook_size,
        "max_position_embeddings": 2048,
        "num_hidden_layers": layers,
        "ffn_dim": 4 * hidden,
        "num_attention_heads": heads,
        "hidden_size": hidden,
        "num_codebooks": 4,
        "audio_channels": 1,
        "activation_function": "gelu",
        "dropout": 0.1,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "layerdrop": 0.0,
        "scale_embedding": False,
        "tie_word_embeddings": False,
        "pad_token_id": codebook_size,
        "bos_token_id": codebook_size,
        **extra,
    }


def _generation(codebook_size: int, frame_rate: int) -> dict[str, Any]:
    """What the conversion script writes to generation_config.json: sampling with CFG 3, 30 s."""
    return {
        "decoder_start_token_id": codebook_size,
        "pad_token_id": codebook_size,
        "bos_token_id": codebook_size,
        "do_sample": True,
        "guidance_scale": 3.0,
        "max_length": 30 * frame_rate,
    }


MUSICGEN_SMALL_ARCH: MusicgenConfigs = {
    "text_encoder": _T5_BASE,
    "audio_encoder": _ENCODEC_32KHZ,
    "decoder": _decoder(1024, 24, 16),
}

MUSICGEN_MEDIUM_ARCH: MusicgenConfigs = {
    "text_encoder": _T5_BASE,
    "audio_encoder": _ENCODEC_32KHZ,
    "decoder": _decoder(1536, 48, 24),
}

MUSICGEN_GENERATION = _generation(2048, 50)

# --- tiny (tests) ----------------------------------------------------------------------------

_TINY_CODEBOOK = 64  # 6 bits: 1.2 kbps at 50 Hz gives 4 codebooks, as the real 2.2 kbps with 11 bits

TINY_MUSICGEN: MusicgenConfigs = {
    # The SD3/Flux tiny T5 (the in-memory T5 tokenizer emits fewer than 512 ids).
    "text_encoder": {
        "vocab_size": 512,
        "d_model": 64,
        "d_kv": 16,
        "d_ff": 128,
        "num_layers": 2,
        "num_decoder_layers": 2,
        "num_heads": 4,
        "relative_attention_num_buckets": 32,
        "relative_attention_max_distance": 128,
        "feed_forward_proj": "gated-gelu",
        "layer_norm_epsilon": 1e-6,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
    },
    "audio_encoder": {
        **_ENCODEC_32KHZ,
        "hidden_size": 16,
        "num_filters": 4,
        "num_lstm_layers": 1,
        "codebook_size": _TINY_CODEBOOK,
        "codebook_dim": 16,
        "target_bandwidths": [1.2],
    },
    # A 10x wider weight init than the real 0.02: logits then spread over about one unit, so the
    # prompt and the guidance scale visibly change which tokens are drawn.
    "decoder": _decoder(32, 2, 4, codebook_size=_TINY_CODEBOOK, dropout=0.0, initializer_factor=0.2),
}

TINY_MUSICGEN_GENERATION = _generation(_TINY_CODEBOOK, 50)
