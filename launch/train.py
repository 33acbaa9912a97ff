"""`python -m launch.train --config ... --workdir ...`: the same flags as `voiceemo train`."""

import sys

from voiceemo_jax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
