"""Component configurations of the built-in presets: plain data, no code.

Each preset is a mapping ``component name -> (class name, config)`` in the order the pipeline's
``model_index.json`` lists them. Class names are looked up by ``engines.presets``: diffusers
models and schedulers take the config as ``from_config`` keys, text encoders as their
``transformers`` config's keyword arguments, tokenizers as options of the in-memory builders in
``engines.preset_tokenizers``. The configs are part of each preset's fingerprint, so changing a
number here invalidates cached builds by itself. Treat these dicts as read-only.

The tiny presets keep the real latent geometry (VAE downsampling 8x, 4 or 16 latent channels)
with very few channels and layers, so that shapes, sizes and scheduler math match the real
models while a 64x64 image takes milliseconds. The ``*-arch`` presets copy the real checkpoints'
``config.json`` files (runwayml/stable-diffusion-v1-5, stabilityai/stable-diffusion-xl-base-1.0).
"""

from __future__ import annotations

from typing import Any

ComponentConfigs = dict[str, tuple[str, dict[str, Any]]]

# --- shared pieces -------------------------------------------------------------------------

# Legacy CLIP configs say eos_token_id 2, which makes the text model pool at the argmax of the
# ids; the tokenizers give <|endoftext|> the highest id, so this pools at end-of-text.
_CLIP_IDS = {"bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "max_position_embeddings": 77}

_SD_BETAS = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
}

SD_DDIM_SCHEDULER = {
    **_SD_BETAS,
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}

SD15_PNDM_SCHEDULER = {**_SD_BETAS, "skip_prk_steps": True, "set_alpha_to_one": False, "steps_offset": 1}

SDXL_EULER_SCHEDULER = {
    **_SD_BETAS,
    "interpolation_type": "linear",
    "prediction_type": "epsilon",
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "use_karras_sigmas": False,
}

SD3_SCHEDULER = {"num_train_timesteps": 1000, "shift": 3.0}

# FLUX.1-dev's scheduler_config.json: the shift grows with the image's token count.
FLUX_SCHEDULER = {
    "num_train_timesteps": 1000,
    "shift": 3.0,
    "use_dynamic_shifting": True,
    "base_shift": 0.5,
    "max_shift": 1.15,
    "base_image_seq_len": 256,
    "max_image_seq_len": 4096,
}


def _tiny_vae(latent_channels: int, **extra: Any) -> dict[str, Any]:
    """Four blocks (8x downsampling, as in every real SD-family VAE) with few channels."""
    return {
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "block_out_channels": [8, 8, 16, 16],
        "layers_per_block": 1,
        "latent_channels": latent_channels,
        "norm_num_groups": 8,
        "sample_size": 64,
        **extra,
    }


def _tiny_clip(hidden: int, **extra: Any) -> dict[str, Any]:
    return {
        **_CLIP_IDS,
        "vocab_size": 1000,
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "hidden_act": "gelu",
        "projection_dim": hidden,
        **extra,
    }


_TINY_T5 = {
    "vocab_size": 512,
    "d_model": 64,
    "d_kv": 16,
    "d_ff": 128,
    "num_layers": 2,
    "num_heads": 4,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",  # T5 v1.1, as used by SD3 and Flux
    "layer_norm_epsilon": 1e-6,
}

_CLIP_TOKENIZER: dict[str, Any] = {}
_OPENCLIP_TOKENIZER = {"pad_token": "!"}  # SDXL's second tokenizer pads with "!" (id 0)
_T5_TOKENIZER: dict[str, Any] = {}

# --- tiny presets (tests) ------------------------------------------------------------------

TINY_SD: ComponentConfigs = {
    "vae": ("AutoencoderKL", _tiny_vae(4, scaling_factor=0.18215)),
    "text_encoder": ("CLIPTextModel", _tiny_clip(32, hidden_act="quick_gelu")),
    "tokenizer": ("CLIPTokenizer", _CLIP_TOKENIZER),
    "unet": (
        "UNet2DConditionModel",
        {
            "sample_size": 8,
            "in_channels": 4,
            "out_channels": 4,
            "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
            "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
            "block_out_channels": [32, 64],
            "layers_per_block": 1,
            "attention_head_dim": 8,
            "cross_attention_dim": 32,
            "norm_num_groups": 8,
        },
    ),
    "scheduler": ("DDIMScheduler", SD_DDIM_SCHEDULER),
}

TINY_SDXL: ComponentConfigs = {
    "vae": ("AutoencoderKL", _tiny_vae(4, scaling_factor=0.13025, force_upcast=True)),
    "text_encoder": ("CLIPTextModel", _tiny_clip(32, hidden_act="quick_gelu")),
    "text_encoder_2": ("CLIPTextModelWithProjection", _tiny_clip(64)),
    "tokenizer": ("CLIPTokenizer", _CLIP_TOKENIZER),
    "tokenizer_2": ("CLIPTokenizer", _OPENCLIP_TOKENIZER),
    "unet": (
        "UNet2DConditionModel",
        {
            "sample_size": 8,
            "in_channels": 4,
            "out_channels": 4,
            "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
            "block_out_channels": [32, 64],
            "layers_per_block": 2,
            "transformer_layers_per_block": [1, 2],
            "attention_head_dim": [2, 4],
            "use_linear_projection": True,
            "cross_attention_dim": 32 + 64,  # the two encoders' hidden states, concatenated
            "addition_embed_type": "text_time",
            "addition_time_embed_dim": 8,
            # 6 size/crop numbers x addition_time_embed_dim + text_encoder_2's projection_dim
            "projection_class_embeddings_input_dim": 6 * 8 + 64,
            "norm_num_groups": 8,
        },
    ),
    "scheduler": ("EulerDiscreteScheduler", SDXL_EULER_SCHEDULER),
}

TINY_SD3: ComponentConfigs = {
    "vae": (
        "AutoencoderKL",
        _tiny_vae(
            16,
            scaling_factor=1.5305,
            shift_factor=0.0609,
            use_quant_conv=False,
            use_post_quant_conv=False,
        ),
    ),
    "text_encoder": ("CLIPTextModelWithProjection", _tiny_clip(32, hidden_act="quick_gelu")),
    "text_encoder_2": ("CLIPTextModelWithProjection", _tiny_clip(32)),
    "text_encoder_3": ("T5EncoderModel", _TINY_T5),
    "tokenizer": ("CLIPTokenizer", _CLIP_TOKENIZER),
    "tokenizer_2": ("CLIPTokenizer", _OPENCLIP_TOKENIZER),
    "tokenizer_3": ("T5Tokenizer", _T5_TOKENIZER),
    "transformer": (
        "SD3Transformer2DModel",
        {
            "sample_size": 8,
            "patch_size": 2,
            "in_channels": 16,
            "out_channels": 16,
            "num_layers": 2,
            "attention_head_dim": 8,
            "num_attention_heads": 4,
            "caption_projection_dim": 32,  # = heads x head dim
            "joint_attention_dim": 64,  # T5 d_model (CLIP states are zero-padded up to it)
            "pooled_projection_dim": 32 + 32,  # both CLIP projections, concatenated
            "pos_embed_max_size": 32,  # up to 512x512 images
        },
    ),
    "scheduler": ("FlowMatchEulerDiscreteScheduler", SD3_SCHEDULER),
}

TINY_FLUX: ComponentConfigs = {
    "vae": (
        "AutoencoderKL",
        _tiny_vae(
            16,
            scaling_factor=0.3611,
            shift_factor=0.1159,
            use_quant_conv=False,
            use_post_quant_conv=False,
        ),
    ),
    "text_encoder": ("CLIPTextModel", _tiny_clip(32, hidden_act="quick_gelu")),
    "text_encoder_2": ("T5EncoderModel", _TINY_T5),
    "tokenizer": ("CLIPTokenizer", _CLIP_TOKENIZER),
    "tokenizer_2": ("T5Tokenizer", _T5_TOKENIZER),
    "transformer": (
        "FluxTransformer2DModel",
        {
            "patch_size": 1,
            "in_channels": 16 * 4,  # latents are packed 2x2
            "num_layers": 1,
            "num_single_layers": 2,
            "attention_head_dim": 16,
            "num_attention_heads": 2,
            "joint_attention_dim": 64,  # T5 d_model
            "pooled_projection_dim": 32,  # CLIP pooled output = its hidden size
            "guidance_embeds": True,
            "axes_dims_rope": [4, 6, 6],  # sums to attention_head_dim
        },
    ),
    "scheduler": ("FlowMatchEulerDiscreteScheduler", FLUX_SCHEDULER),
}

# --- cpu-small: realistic CPU timing ---------------------------------------------------------

CPU_SMALL: ComponentConfigs = {
    "vae": (
        "AutoencoderKL",
        {
            **_tiny_vae(4, scaling_factor=0.18215),
            "block_out_channels": [16, 32, 64, 64],
            "norm_num_groups": 16,
            "sample_size": 256,
        },
    ),
    "text_encoder": (
        "CLIPTextModel",
        _tiny_clip(
            256, num_hidden_layers=4, intermediate_size=1024, hidden_act="quick_gelu", vocab_size=1000
        ),
    ),
    "tokenizer": ("CLIPTokenizer", _CLIP_TOKENIZER),
    "unet": (
        "UNet2DConditionModel",
        {
            "sample_size": 32,
            "in_channels": 4,
            "out_channels": 4,
            # No attention at the full latent resolution (as in SDXL): 1024-token self-attention
            # would dominate the CPU time of a model this narrow.
            "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
            "block_out_channels": [64, 128, 256],
            "layers_per_block": 1,
            "attention_head_dim": 8,
            "cross_attention_dim": 256,
            "norm_num_groups": 32,
        },
    ),
    "scheduler": ("DDIMScheduler", SD_DDIM_SCHEDULER),
}

# --- full-size architectures (GPU benchmarks; never built in unit tests) ---------------------

_SD_VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}

# openai/clip-vit-large-patch14 text tower (SD 1.x text_encoder, SDXL text_encoder).
_CLIP_VIT_L14_TEXT = {
    **_CLIP_IDS,
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
    "layer_norm_eps": 1e-5,
}

# laion/CLIP-ViT-bigG-14 text tower (SDXL text_encoder_2).
_OPENCLIP_BIGG_TEXT = {
    **_CLIP_IDS,
    "vocab_size": 49408,
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "hidden_act": "gelu",
    "projection_dim": 1280,
    "layer_norm_eps": 1e-5,
}

SD15_ARCH: ComponentConfigs = {
    "vae": ("AutoencoderKL", _SD_VAE),
    "text_encoder": ("CLIPTextModel", _CLIP_VIT_L14_TEXT),
    "tokenizer": ("CLIPTokenizer", _CLIP_TOKENIZER),
    "unet": (
        "UNet2DConditionModel",
        {
            "sample_size": 64,
            "in_channels": 4,
            "out_channels": 4,
            "center_input_sample": False,
            "flip_sin_to_cos": True,
            "freq_shift": 0,
            "down_block_types": [
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "DownBlock2D",
            ],
            "up_block_types": [
                "UpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
            ],
            "block_out_channels": [320, 640, 1280, 1280],
            "layers_per_block": 2,
            "downsample_padding": 1,
            "mid_block_scale_factor": 1,
            "act_fn": "silu",
            "norm_num_groups": 32,
            "norm_eps": 1e-5,
            "cross_attention_dim": 768,
            "attention_head_dim": 8,
        },
    ),
    "scheduler": ("PNDMScheduler", SD15_PNDM_SCHEDULER),
}

SDXL_ARCH: ComponentConfigs = {
    "vae": (
        "AutoencoderKL",
        {**_SD_VAE, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True},
    ),
    "text_encoder": ("CLIPTextModel", _CLIP_VIT_L14_TEXT),
    "text_encoder_2": ("CLIPTextModelWithProjection", _OPENCLIP_BIGG_TEXT),
    "tokenizer": ("CLIPTokenizer", _CLIP_TOKENIZER),
    "tokenizer_2": ("CLIPTokenizer", _OPENCLIP_TOKENIZER),
    "unet": (
        "UNet2DConditionModel",
        {
            "sample_size": 128,
            "in_channels": 4,
            "out_channels": 4,
            "center_input_sample": False,
            "flip_sin_to_cos": True,
            "freq_shift": 0,
            "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
            "block_out_channels": [320, 640, 1280],
            "layers_per_block": 2,
            "transformer_layers_per_block": [1, 2, 10],
            "attention_head_dim": [5, 10, 20],
            "use_linear_projection": True,
            "downsample_padding": 1,
            "mid_block_scale_factor": 1,
            "mid_block_type": "UNetMidBlock2DCrossAttn",
            "act_fn": "silu",
            "norm_num_groups": 32,
            "norm_eps": 1e-5,
            "cross_attention_dim": 2048,  # 768 (CLIP-L) + 1280 (bigG)
            "addition_embed_type": "text_time",
            "addition_embed_type_num_heads": 64,
            "addition_time_embed_dim": 256,
            "projection_class_embeddings_input_dim": 2816,  # 6 x 256 + 1280
        },
    ),
    "scheduler": ("EulerDiscreteScheduler", SDXL_EULER_SCHEDULER),
}

# --- video: text-to-video (ModelScope) and AnimateDiff ----------------------------------------

# AnimateDiff's recommended sampler settings (diffusers docs): linear betas, "linspace" spacing.
ANIMATEDIFF_DDIM_SCHEDULER = {
    **_SD_BETAS,
    "beta_schedule": "linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "timestep_spacing": "linspace",
    "prediction_type": "epsilon",
}

TINY_T2V: ComponentConfigs = {
    "vae": ("AutoencoderKL", _tiny_vae(4, scaling_factor=0.18215)),
    "text_encoder": ("CLIPTextModel", _tiny_clip(32)),  # OpenCLIP-style (gelu), as ModelScope's
    "tokenizer": ("CLIPTokenizer", _OPENCLIP_TOKENIZER),
    "unet": (
        "UNet3DConditionModel",
        {
            "sample_size": 8,
            "in_channels": 4,
            "out_channels": 4,
            "down_block_types": ["CrossAttnDownBlock3D", "DownBlock3D"],
            "up_block_types": ["UpBlock3D", "CrossAttnUpBlock3D"],
            "block_out_channels": [32, 64],
            "layers_per_block": 1,
            "attention_head_dim": 8,
            "cross_attention_dim": 32,
            "norm_num_groups": 8,
        },
    ),
    "scheduler": ("DDIMScheduler", SD_DDIM_SCHEDULER),
}

TINY_ANIMATEDIFF: ComponentConfigs = {
    "vae": ("AutoencoderKL", _tiny_vae(4, scaling_factor=0.18215)),
    "text_encoder": ("CLIPTextModel", _tiny_clip(32, hidden_act="quick_gelu")),
    "tokenizer": ("CLIPTokenizer", _CLIP_TOKENIZER),
    "unet": ("UNet2DConditionModel", TINY_SD["unet"][1]),
    # One motion module per UNet block level; layers per block must equal the UNet's.
    "motion_adapter": (
        "MotionAdapter",
        {
            "block_out_channels": [32, 64],
            "motion_layers_per_block": 1,
            "motion_mid_block_layers_per_block": 1,
            "motion_num_attention_heads": 2,
            "motion_norm_num_groups": 8,
            "motion_max_seq_length": 32,
            "use_motion_mid_block": True,
        },
    ),
    "scheduler": ("DDIMScheduler", ANIMATEDIFF_DDIM_SCHEDULER),
}

# OpenCLIP ViT-H/14 text tower, penultimate layer (23 of 24), as in SD 2.x and ModelScope T2V.
_OPENCLIP_VIT_H14_TEXT = {
    **_CLIP_IDS,
    "vocab_size": 49408,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "hidden_act": "gelu",
    "projection_dim": 512,
    "layer_norm_eps": 1e-5,
}

# damo-vilab/text-to-video-ms-1.7b.
MODELSCOPE_T2V_ARCH: ComponentConfigs = {
    "vae": ("AutoencoderKL", _SD_VAE),
    "text_encoder": ("CLIPTextModel", _OPENCLIP_VIT_H14_TEXT),
    "tokenizer": ("CLIPTokenizer", _OPENCLIP_TOKENIZER),
    "unet": (
        "UNet3DConditionModel",
        {
            "sample_size": 32,
            "in_channels": 4,
            "out_channels": 4,
            "down_block_types": [
                "CrossAttnDownBlock3D",
                "CrossAttnDownBlock3D",
                "CrossAttnDownBlock3D",
                "DownBlock3D",
            ],
            "up_block_types": ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"],
            "block_out_channels": [320, 640, 1280, 1280],
            "layers_per_block": 2,
            "downsample_padding": 1,
            "mid_block_scale_factor": 1,
            "act_fn": "silu",
            "norm_num_groups": 32,
            "norm_eps": 1e-5,
            "cross_attention_dim": 1024,
            "attention_head_dim": 64,
        },
    ),
    "scheduler": ("DDIMScheduler", SD_DDIM_SCHEDULER),
}

# SD 1.5 with guoyww/animatediff-motion-adapter-v1-5-2 (mid-block motion module, 32 frames max).
ANIMATEDIFF_SD15_ARCH: ComponentConfigs = {
    "vae": SD15_ARCH["vae"],
    "text_encoder": SD15_ARCH["text_encoder"],
    "tokenizer": SD15_ARCH["tokenizer"],
    "unet": SD15_ARCH["unet"],
    "motion_adapter": (
        "MotionAdapter",
        {
            "block_out_channels": [320, 640, 1280, 1280],
            "motion_layers_per_block": 2,
            "motion_mid_block_layers_per_block": 1,
            "motion_num_attention_heads": 8,
            "motion_norm_num_groups": 32,
            "motion_max_seq_length": 32,
            "use_motion_mid_block": True,
            "conv_in_channels": None,
        },
    ),
    "scheduler": ("DDIMScheduler", ANIMATEDIFF_DDIM_SCHEDULER),
}
