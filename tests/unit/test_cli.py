import os
import sys
from pathlib import Path

import pytest

from genmedia import cli


def test_serve_command_uses_the_serve_beside_the_interpreter(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # as when .venv/bin/genmedia runs without activation
    command = cli.serve_command("config/local.yaml")
    assert command[1:] == ["run", "config/local.yaml"]
    assert Path(command[0]) == Path(sys.executable).parent / "serve" and os.access(command[0], os.X_OK)


def test_image_request_fields_from_arguments():
    args = cli._parser().parse_args(["generate", "image", "a fox", "--seed", "3", "--scheduler", "euler",
                                     "--format", "jpeg", "--guidance", "5"])
    fields = cli._image_request(args)
    assert fields["prompt"] == "a fox" and fields["seed"] == 3 and fields["guidance_scale"] == 5.0
    assert fields["scheduler"] == cli.SCHEDULERS["euler"] and fields["format"] == cli.FORMATS["jpeg"]
    assert "seed" not in cli._image_request(cli._parser().parse_args(["generate", "image", "x"]))


def test_unknown_scheduler_is_refused_by_the_parser():
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["generate", "image", "x", "--scheduler", "nope"])
