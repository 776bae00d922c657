"""Write MNIST's test images as PNG files, one folder per class: a stand-in for a user's own scans,
made offline from a copy of MNIST (`python make_pngs.py --mnist /path/to/data`; torchvision fetches
MNIST there first if it is not there and you are online).

    pngs/train/<digit>/*.png   the first 8,000 test images (--count changes how many)
    pngs/test/<digit>/*.png    the last 2,000
"""

from __future__ import annotations

import argparse
from pathlib import Path

from torchvision.datasets import MNIST


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mnist", default="data", help="folder holding MNIST/raw/ (default: data)")
    parser.add_argument("--out", default="pngs", help="where the PNG folders go (default: pngs)")
    parser.add_argument("--count", type=int, default=8000, help="training images (default: 8000)")
    args = parser.parse_args()
    test = MNIST(args.mnist, train=False, download=True)
    for i, (image, label) in enumerate(test):
        if args.count <= i < len(test) - 2000:
            continue
        split = "train" if i < args.count else "test"
        folder = Path(args.out) / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i:05d}.png")
    print(f"wrote {args.out}/train ({args.count} images) and {args.out}/test (2000 images)")


if __name__ == "__main__":
    main()
