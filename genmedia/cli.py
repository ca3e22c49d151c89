"""The `genmedia` command.

    genmedia serve [--config config/local.yaml]       start the service (Ray Serve, local cluster)
    genmedia generate image "a lighthouse at dusk" --out out.png [--seed 1 --steps 20 ...]
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genmedia", description="genmedia: generative media over gRPC")
    parser.add_argument("--address", default=os.environ.get("GENMEDIA_ADDRESS", DEFAULT_ADDRESS),
                        help="gRPC address of the service (default %(default)s)")
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

    get = sub.add_parser("get", help="print a finished generation's result")
    get.add_argument("generation_id")
    sub.add_parser("health", help="exit 0 if the service reports SERVING")
    return parser


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


def _write_images(result: pb.GenerationResult, out: Path) -> list[Path]:
    paths = []
    for image in result.images:
        path = out if len(result.images) == 1 else out.with_name(f"{out.stem}_{image.index}{out.suffix}")
        data = image.data or urllib.request.urlopen(image.url).read()  # noqa: S310 - our own presigned URL
        path.write_bytes(data)
        paths.append(path)
    return paths


def _generate_image(client: GenmediaClient, args) -> int:
    from tqdm import tqdm

    bar = None if args.no_progress else tqdm(total=1, unit="step", desc="queued", file=sys.stderr)
    result = None
    for event in client.stream_image(**_image_request(args)):
        which = event.WhichOneof("event")
        if bar is not None and which == "step":
            bar.total = event.step.total
            bar.set_description("denoising")
            bar.n = event.step.step
            bar.refresh()
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
    for path in _write_images(result, args.out):
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
    with GenmediaClient(args.address) as client:
        try:
            if args.command == "generate":
                return _generate_image(client, args)
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
