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


def test_video_and_audio_request_fields_from_arguments():
    video = cli._video_request(cli._parser().parse_args(
        ["generate", "video", "waves", "--model", "tiny-t2v", "--frames", "8", "--fps", "4", "--container", "webm",
         "--seed", "2"]))
    assert (video["num_frames"], video["fps"], video["seed"]) == (8, 4, 2)
    assert video["container"] == cli.CONTAINERS["webm"] and video["model"] == "tiny-t2v"
    audio = cli._audio_request(cli._parser().parse_args(
        ["generate", "audio", "piano", "--duration", "4", "--format", "flac", "--top-k", "50", "--temperature", "0.9"]))
    assert (audio["duration_s"], audio["top_k"], audio["temperature"]) == (4.0, 50, 0.9)
    assert audio["format"] == cli.AUDIO_FORMATS["flac"] and "top_p" not in audio and "seed" not in audio
