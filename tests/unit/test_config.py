"""The Serve config files validate against Serve's own schema and our AppConfig."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from ray.serve.schema import ServeDeploySchema

from services.config import AppConfig

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "config").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_files_validate(path):
    document = yaml.safe_load(path.read_text())
    ServeDeploySchema.model_validate(document)
    for app in document["applications"]:
        config = AppConfig.model_validate(app["args"])
        assert config.default_model in {m.name for m in config.models}
        for settings in (config.ingress, config.text_encoder, config.denoiser, config.vae_decoder):
            assert set(settings.serve_options()) >= {"autoscaling_config", "ray_actor_options"}


def test_local_config_names_the_servicers():
    document = yaml.safe_load((REPO / "config" / "local.yaml").read_text())
    functions = document["grpc_options"]["grpc_servicer_functions"]
    assert "genmedia.grpc_servicers.add_GenerationServiceServicer_to_server" in functions
    assert "genmedia.grpc_servicers.add_HealthServicer_to_server" in functions


@pytest.mark.parametrize(
    "args,fragment",
    [
        ({"models": []}, "at least 1"),
        ({"models": [{"name": "A", "source": "preset:tiny-sd"}]}, "must match"),
        ({"models": [{"name": "a", "source": "preset:tiny-sd"}], "default_model": "b"}, "not among"),
        ({"models": [{"name": "a", "source": "x"}, {"name": "a", "source": "y"}]}, "unique"),
        ({"models": [{"name": "a", "source": "x"}], "typo_field": 1}, "Extra inputs"),
        ({"models": [{"name": "a", "source": "x"}], "denoiser": {"autoscaling": {"min_replicas": 3,
                                                                               "max_replicas": 2}}}, "min_replicas"),
        ({"models": [{"name": "a", "source": "x"}], "storage": {"backend": "s3"}}, "s3_bucket"),
    ],
)
def test_bad_configs_fail_at_start(args, fragment):
    with pytest.raises(ValidationError) as err:
        AppConfig.model_validate(args)
    assert fragment in str(err.value)


def test_config_reference_is_fresh():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(REPO / "scripts" / "config_reference.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_local_config_fits_two_cores():
    """Ray only starts a replica whose num_cpus fit: the embedded default must fit a 2-core machine
    with every deployment at its maximum replicas."""
    import yaml

    from services.config import AppConfig

    args = yaml.safe_load((REPO / "config" / "local.yaml").read_text())["applications"][0]["args"]
    config = AppConfig.model_validate(args)
    stages = [config.ingress, config.text_encoder, config.denoiser, config.vae_decoder, config.safety,
              config.provenance]
    stages += [config.video_generator] if config.video_models else []
    stages += [config.audio_generator] if config.audio_models else []
    reserved = sum(s.actor.num_cpus * s.autoscaling.max_replicas for s in stages)
    assert reserved <= 2.0, f"config/local.yaml reserves {reserved} CPUs at maximum scale"
