"""Pictures of one character -> MNIST's 28x28 format, as MNIST prepared its digits: the one decode
that predict and a folder of your own images (data=folder) share, so a model sees the same pixels
from both. Torch-free (NumPy and Pillow): a folder is decoded and checked before a run starts.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mnist_exp.core.errors import UserError
from mnist_exp.core.spec import IMAGE_SUFFIXES

BOMBS = (Image.DecompressionBombWarning, Image.DecompressionBombError)  # Pillow's own size guard
MAX_PIXELS = 25_000_000  # a 5000x5000 photo of a digit; anything larger is refused before decoding


def mnist_like(image: Image.Image) -> np.ndarray:
    """A picture of one digit -> 28x28 uint8, white digit on black, as MNIST prepared its digits.
    An image that is one already (28x28 grayscale, light on dark: an MNIST-family image as saved
    from the dataset) passes unchanged, pixel for pixel."""
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if image.mode == "L" and gray.shape == (28, 28) and border.mean() <= 127:
        return gray.astype(np.uint8)
    if border.mean() > 127:  # dark ink on light paper: invert to MNIST's light-on-dark
        gray = 255 - gray
    gray = gray - np.median(border if border.mean() <= 127 else 255 - border)
    gray = gray.clip(0, 255)
    if gray.max() <= 0:
        raise UserError("the image is blank (no digit found)")
    rows = np.flatnonzero((gray > 0.2 * gray.max()).any(axis=1))
    cols = np.flatnonzero((gray > 0.2 * gray.max()).any(axis=0))
    crop = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    crop = crop * (255.0 / crop.max())
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    fitted = np.asarray(Image.fromarray(crop.astype(np.uint8)).resize(size, Image.LANCZOS), np.float32)
    total = fitted.sum()
    ys, xs = np.indices(fitted.shape)
    cy, cx = (ys * fitted).sum() / total, (xs * fitted).sum() / total
    top = round(14 - cy)
    left = round(14 - cx)
    top = min(max(top, 0), 28 - fitted.shape[0])
    left = min(max(left, 0), 28 - fitted.shape[1])
    out = np.zeros((28, 28), np.float32)
    out[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return out.clip(0, 255).round().astype(np.uint8)


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """A picture with transparency, as it looks on white paper: strokes drawn only in the alpha
    channel (black on transparent) become dark ink on a light background."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, image.convert("RGBA")).convert("RGB")
    return image


def expand(images: list[str]) -> list[Path]:
    """Files as given; a folder contributes its image files, sorted."""
    paths: list[Path] = []
    for item in images:
        path = Path(str(item)).expanduser()
        if path.is_dir():
            paths += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            paths.append(path)
    return paths


def load_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise UserError("no such file")
    try:
        with warnings.catch_warnings(), Image.open(path) as image:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise UserError(
                    f"a picture of {width}x{height} pixels, more than the {MAX_PIXELS:,} mnist-exp decodes "
                    "for one digit (a decompression bomb looks like this)"
                )
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                raise UserError(f"an animation of {frames} frames, not one picture of one digit")
            image.load()
            return mnist_like(_flatten_alpha(image))
    except (UnidentifiedImageError, OSError, *BOMBS) as err:
        raise UserError(f"not a readable image ({type(err).__name__})") from None
