"""The `genmedia` command.

    genmedia serve [--config config/local.yaml]       start the service (Ray Serve, local cluster)
    genmedia generate image "a lighthouse at dusk" --out out.png [--seed 1 --steps 20 ...]
    genmedia generate video "waves on a beach" --out out.mp4 [--model tiny-t2v --frames 16 --fps 8 ...]
    genmedia generate audio "a calm piano melody" --out out.wav [--duration 8 --format flac ...]
    genmedia get GENERATION_ID [--out-dir DIR]
    genmedia health
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import urllib.request
from pathlib import Path

import grpc

from genmedia.client import DEFAULT_ADDRESS, GenmediaClient
from genmedia.v1 import generation_pb2 as pb

SCHEDULERS = {name.removeprefix("SCHEDULER_").lower(): value for name, value in pb.Scheduler.items()
              if name != "SCHEDULER_UNSPECIFIED"}
FORMATS = {"png": pb.IMAGE_FORMAT_PNG, "jpeg": pb.IMAGE_FORMAT_JPEG, "webp": pb.IMAGE_FORMAT_WEBP}
CONTAINERS = {"mp4": pb.VIDEO_CONTAINER_MP4, "webm": pb.VIDEO_CONTAINER_WEBM}
AUDIO_FORMATS = {"wav": pb.AUDIO_FORMAT_WAV, "flac": pb.AUDIO_FORMAT_FLAC, "mp3": pb.AUDIO_FORMAT_MP3}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genmedia", description="genmedia: generative media over gRPC")
    parser.add_argument("--address", default=os.environ.get("GENMEDIA_ADDRESS", DEFAULT_ADDRESS),
                        help="gRPC address of the service (default %(default)s)")
    parser.add_argument("--api-key", default=None,
                        help="API key sent as 'authorization: Bearer ...' (default: $GENMEDIA_API_KEY)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the service with a Serve config file")
    serve.add_argument("--config", default="config/local.yaml", help="Serve config YAML (default %(default)s)")

    generate = sub.add_parser("generate", help="generate media")
    kind = generate.add_subparsers(dest="kind", required=True)
    image = kind.add_parser("image", help="generate images from a prompt")
    image.add_argument("prompt")
    image.add_argument("--out", type=Path, default=Path("out.png"),
                       help="output file; with --num-images N, files get _0.._N-1 suffixes")
    image.add_argument("--negative-prompt", default="")
    image.add_argument("--model", default="")
    image.add_argument("--width", type=int, default=0)
    image.add_argument("--height", type=int, default=0)
    image.add_argument("--steps", type=int, default=0)
    image.add_argument("--guidance", type=float, default=None)
    image.add_argument("--scheduler", choices=sorted(SCHEDULERS), default=None)
    image.add_argument("--seed", type=int, default=None)
    image.add_argument("--num-images", type=int, default=1)
    image.add_argument("--format", choices=sorted(FORMATS), default="png")
    image.add_argument("--idempotency-key", default="")
    image.add_argument("--no-progress", action="store_true", help="no progress bar")

    video = kind.add_parser("video", help="generate a video from a prompt")
    video.add_argument("prompt")
    video.add_argument("--out", type=Path, default=Path("out.mp4"), help="output file (default %(default)s)")
    video.add_argument("--negative-prompt", default="")
    video.add_argument("--model", default="")
    video.add_argument("--width", type=int, default=0)
    video.add_argument("--height", type=int, default=0)
    video.add_argument("--frames", type=int, default=0, help="number of frames (0: the model's default)")
    video.add_argument("--fps", type=int, default=0)
    video.add_argument("--steps", type=int, default=0)
    video.add_argument("--guidance", type=float, default=None)
    video.add_argument("--scheduler", choices=sorted(SCHEDULERS), default=None)
    video.add_argument("--seed", type=int, default=None)
    video.add_argument("--container", choices=sorted(CONTAINERS), default="mp4")
    video.add_argument("--idempotency-key", default="")
    video.add_argument("--no-progress", action="store_true", help="no progress bar")
    audio = kind.add_parser("audio", help="generate music from a prompt")
    audio.add_argument("prompt")
    audio.add_argument("--out", type=Path, default=Path("out.wav"), help="output file (default %(default)s)")
    audio.add_argument("--model", default="")
    audio.add_argument("--duration", type=float, default=0.0, help="seconds, 2..30 (0: the model's default)")
    audio.add_argument("--guidance", type=float, default=None)
    audio.add_argument("--top-k", type=int, default=None)
    audio.add_argument("--top-p", type=float, default=None)
    audio.add_argument("--temperature", type=float, default=None)
    audio.add_argument("--seed", type=int, default=None)
    audio.add_argument("--format", choices=sorted(AUDIO_FORMATS), default="wav")
    audio.add_argument("--idempotency-key", default="")
    audio.add_argument("--no-progress", action="store_true", help="no progress bar")
    get = sub.add_parser("get", help="print a finished generation's result")
    get.add_argument("generation_id")
    sub.add_parser("health", help="exit 0 if the service reports SERVING")

    keys = sub.add_parser("keys", help="manage API keys in a key file (docs/tenancy.md); no server needed")
    keys.add_argument("--file", required=True, help="the key file the ingress reads (ingress.auth.api_keys_file)")
    action = keys.add_subparsers(dest="action", required=True)
    create = action.add_parser("create", help="add a key for a tenant and print it (shown once)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--note", default="", help="what the key is for")
    revoke = action.add_parser("revoke", help="remove a key by its id")
    revoke.add_argument("id")
    action.add_parser("list", help="list key ids, tenants and notes (never the keys)")
    return parser


def _keys(args) -> int:
    from genmedia.api_keys import create_key, read_key_file, revoke_key

    if args.action == "create":
        entry, key = create_key(Path(args.file), args.tenant, args.note)
        print(f"key id {entry.id} for tenant {entry.tenant} (stored hashed; this is the only time it is shown):",
              file=sys.stderr)
        print(key)
    elif args.action == "revoke":
        try:
            entry = revoke_key(Path(args.file), args.id)
        except KeyError:
            print(f"error: no key with id {args.id!r} in {args.file}", file=sys.stderr)
            return 1
        print(f"revoked key {entry.id} of tenant {entry.tenant}", file=sys.stderr)
    else:
        for entry in read_key_file(Path(args.file)):
            print(f"{entry.id}\t{entry.tenant}\t{entry.created}\t{entry.note}")
    return 0


def _image_request(args) -> dict:
    fields = dict(prompt=args.prompt, negative_prompt=args.negative_prompt, model=args.model, width=args.width,
                  height=args.height, steps=args.steps, num_images=args.num_images, format=FORMATS[args.format],
                  return_bytes=True, idempotency_key=args.idempotency_key)
    if args.guidance is not None:
        fields["guidance_scale"] = args.guidance
    if args.seed is not None:
        fields["seed"] = args.seed
    if args.scheduler:
        fields["scheduler"] = SCHEDULERS[args.scheduler]
    return fields


def _write_artifacts(result: pb.GenerationResult, out: Path) -> list[Path]:
    """Writes the images, the video or the audio of a result to `out` (numbered when several)."""
    paths = []
    artifacts = [*result.images, *result.videos, *result.audios]
    for n, artifact in enumerate(artifacts):
        if not artifact.uri:  # an image the safety policy blocked
            continue
        path = out if len(artifacts) == 1 else out.with_name(f"{out.stem}_{n}{out.suffix}")
        data = artifact.data or urllib.request.urlopen(artifact.url).read()  # noqa: S310 - our own presigned URL
        path.write_bytes(data)
        paths.append(path)
    return paths


def _video_request(args) -> dict:
    fields = dict(prompt=args.prompt, negative_prompt=args.negative_prompt, model=args.model, width=args.width,
                  height=args.height, num_frames=args.frames, fps=args.fps, steps=args.steps,
                  container=CONTAINERS[args.container], return_bytes=True, idempotency_key=args.idempotency_key)
    if args.guidance is not None:
        fields["guidance_scale"] = args.guidance
    if args.seed is not None:
        fields["seed"] = args.seed
    if args.scheduler:
        fields["scheduler"] = SCHEDULERS[args.scheduler]
    return fields


def _audio_request(args) -> dict:
    fields = dict(prompt=args.prompt, model=args.model, duration_s=args.duration, format=AUDIO_FORMATS[args.format],
                  return_bytes=True, idempotency_key=args.idempotency_key)
    for name, value in (("guidance_scale", args.guidance), ("top_k", args.top_k), ("top_p", args.top_p),
                        ("temperature", args.temperature), ("seed", args.seed)):
        if value is not None:
            fields[name] = value
    return fields


def _generate(client: GenmediaClient, args) -> int:
    """Streams one generation of the kind the command names, with a progress bar; writes the files."""
    from tqdm import tqdm

    stream = {"image": lambda: client.stream_image(**_image_request(args)),
              "video": lambda: client.stream_video(**_video_request(args)),
              "audio": lambda: client.stream_audio(**_audio_request(args))}[args.kind]
    working = {"image": "denoising", "video": "denoising", "audio": "generating"}[args.kind]
    bar = None if args.no_progress else tqdm(total=1, unit="step", desc="queued", file=sys.stderr)
    result = None
    for event in stream():
        which = event.WhichOneof("event")
        if bar is not None and which == "step":
            bar.total = event.step.total
            bar.set_description(working)
            bar.n = event.step.step
            bar.refresh()
        elif bar is not None and which == "phase":
            bar.set_description(pb.GenerationEvent.Phase.Name.Name(event.phase.name).removeprefix("NAME_").lower())
        elif bar is not None and which in ("queued", "prompt_encoded", "decoded", "stored"):
            bar.set_description(which.replace("_", " "))
        elif which == "done":
            result = event.done
        elif which == "error":
            if bar is not None:
                bar.close()
            print(f"error: {grpc.StatusCode(_code(event.error.code)).name}: {event.error.message}", file=sys.stderr)
            return 1
    if bar is not None:
        bar.close()
    if result is None:
        print("error: the stream ended without a result", file=sys.stderr)
        return 1
    for path in _write_artifacts(result, args.out):
        print(path)
    print(f"generation {result.generation_id} seed {result.seed} model {result.model}@{result.model_version} "
          f"{result.timings.total_s:.2f}s", file=sys.stderr)
    return 0


def serve_command(config: str) -> list[str]:
    """`serve run <config>` with Ray's `serve` from this interpreter's environment.

    Looked up beside sys.executable first: `.venv/bin/genmedia` is usually run without activating
    the venv, so `serve` is not on PATH. Raises FileNotFoundError if Ray Serve is not installed.
    """
    beside = Path(sys.executable).parent / "serve"
    found = str(beside) if beside.is_file() else shutil.which("serve")
    if found is None:
        raise FileNotFoundError("Ray Serve's `serve` command was not found; run scripts/bootstrap.sh")
    return [found, "run", config]


def _code(value: int):
    return next(c for c in grpc.StatusCode if c.value[0] == value)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        command = serve_command(args.config)
        os.execv(command[0], command)
    if args.command == "keys":
        return _keys(args)
    with GenmediaClient(args.address, api_key=args.api_key) as client:
        try:
            if args.command == "generate":
                return _generate(client, args)
            if args.command == "get":
                print(client.get_generation(args.generation_id))
                return 0
            serving = client.is_serving()
            print("SERVING" if serving else "NOT_SERVING")
            return 0 if serving else 1
        except grpc.RpcError as err:
            print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
