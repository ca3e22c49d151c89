import pytest

from engines.families import Family
from engines.params import RawImageFields, resolve_image_params
from engines.registry import ModelInfo
from engines.schedulers import SchedulerName
from genmedia.errors import InvalidArgument

SD = ModelInfo("m", Family.SD, "v", 512, 512, 30, 7.5, SchedulerName.DDIM, 77)
FLUX = ModelInfo("f", Family.FLUX, "v", 1024, 1024, 28, 3.5, SchedulerName.FLOW_MATCH_EULER, 77)


def resolve(info=SD, **fields):
    fields.setdefault("prompt", "a cat")
    return resolve_image_params(RawImageFields(**fields), info, seed_if_unset=99)


def test_defaults_applied():
    p = resolve()
    assert (p.width, p.height, p.steps, p.guidance_scale, p.seed, p.num_images) == (512, 512, 30, 7.5, 99, 1)
    assert p.negative_prompt is None and p.scheduler is SchedulerName.DEFAULT


def test_explicit_values_kept():
    p = resolve(width=64, height=2048, steps=150, guidance_scale=0.0, seed=0, num_images=4, negative_prompt="x")
    assert (p.width, p.height, p.steps, p.guidance_scale, p.seed, p.num_images) == (64, 2048, 150, 0.0, 0, 4)
    assert p.negative_prompt == "x"


@pytest.mark.parametrize(
    "info,fields,field",
    [
        (SD, {"prompt": ""}, "prompt"),
        (SD, {"prompt": " \n"}, "prompt"),
        (SD, {"prompt": "a" * 4001}, "prompt"),
        (SD, {"negative_prompt": "\x07"}, "negative_prompt"),
        (SD, {"width": 63}, "width"),
        (SD, {"width": 2056}, "width"),
        (SD, {"height": 100}, "height"),
        (FLUX, {"width": 1032}, "width"),
        (SD, {"steps": 151}, "steps"),
        (SD, {"guidance_scale": 30.01}, "guidance_scale"),
        (SD, {"guidance_scale": float("inf")}, "guidance_scale"),
        (SD, {"num_images": 5}, "num_images"),
        (SD, {"seed": -1}, "seed"),
        (SD, {"seed": 2**63}, "seed"),
        (SD, {"scheduler": SchedulerName.FLOW_MATCH_EULER}, "scheduler"),
        (FLUX, {"scheduler": SchedulerName.EULER}, "scheduler"),
        (FLUX, {"negative_prompt": "no"}, "negative_prompt"),
    ],
)
def test_rejections_name_the_field(info, fields, field):
    with pytest.raises(InvalidArgument) as err:
        resolve(info, **fields)
    assert err.value.field == field and err.value.message.startswith(f"{field}: ")


def test_flux_accepts_multiples_of_16():
    assert resolve(FLUX, width=1040, height=64).width == 1040
