"""The whole safety evaluation in one command: the prompt table, then the image table.

    python -m loadtests.eval_safety            # held-out prompt set, then benign images and timings
    python -m loadtests.eval_safety --errors   # also list every prompt miss and false positive

Exit code 0 when every target of both is met (see loadtests/eval_safety_prompts.py and
loadtests/eval_safety_images.py for the targets and options of each).
"""

from __future__ import annotations

import argparse
import sys

from loadtests import eval_safety_images, eval_safety_prompts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="List every prompt miss and false positive.")
    args = parser.parse_args(argv)
    prompts_rc = eval_safety_prompts.main(["--errors"] if args.errors else [])
    print()
    images_rc = eval_safety_images.main([])
    return 0 if prompts_rc == 0 and images_rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
