"""Predicting on your own digits: MNIST test digits saved as pictures, plain, inverted, big and off-centre."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_exp.core import idx
from mnist_exp.core.checkpoint import load_checkpoint
from mnist_exp.core.data import normalize
from mnist_exp.pipelines.run.predict import predict
from tests.conftest import compose_cfg, run_module

N = 100


def variant(image: np.ndarray, kind: str) -> Image.Image:
    if kind == "plain":
        return Image.fromarray(image)
    if kind == "inverted":  # dark ink on white paper
        return Image.fromarray(255 - image)
    big = Image.fromarray(255 - image).resize((84, 84), Image.BILINEAR)  # a larger scan, off-centre
    canvas = Image.new("L", (200, 150), color=255)
    canvas.paste(big, (10, 40))
    return canvas.convert("RGB")


@pytest.fixture(scope="module")
def digits(mnist_root: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = idx.load_split(mnist_root, train=False)
    return images[:N], labels[:N]


@pytest.mark.parametrize("kind", ["plain", "inverted", "big_offcentre"])
def test_pictures_are_predicted_at_the_checkpoints_accuracy(runs, digits, tmp_path: Path, kind: str) -> None:
    _, _, run = runs["lenet"]
    ckpt = run / "checkpoints" / "last.ckpt"
    images, labels = digits
    model = load_checkpoint(ckpt)
    with torch.no_grad():
        direct = (model(normalize(torch.from_numpy(images), 2, 0.5, 1.0)).argmax(1).numpy() == labels).mean()
    for i, image in enumerate(images):
        variant(image, kind).save(tmp_path / f"digit_{i:03d}.png")
    cfg = compose_cfg("predict", [f"ckpt_path={ckpt}", f"images={tmp_path}", "paths.output_dir=unused"])
    results, failures = predict(cfg)
    assert not failures and len(results) == N
    predicted = np.array([r["label"] for r in results])
    accuracy = (predicted == labels).mean()
    assert accuracy >= direct - 0.08, (kind, accuracy, direct)
    assert all(0 <= r["probability"] <= 1 and len(r["top3"]) == 3 for r in results)


def test_a_text_file_gets_a_clear_error_and_the_rest_is_predicted(runs, digits, tmp_path: Path) -> None:
    _, _, run = runs["mlp"]
    Image.fromarray(digits[0][0]).save(tmp_path / "seven.png")
    (tmp_path / "notes.png").write_text("not an image")
    result = run_module(
        "predict",
        f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
        f"images=[{tmp_path / 'seven.png'},{tmp_path / 'notes.png'}]",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 2
    assert "notes.png: not a readable image" in result.stderr
    assert "seven.png" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    folder = next((tmp_path / "outputs" / "predict" / "runs").iterdir())
    with (folder / "predictions.csv").open() as fh:
        rows = {Path(r["file"]).name: r for r in csv.DictReader(fh)}
    assert (
        rows["seven.png"]["label"].isdigit()
        and rows["seven.png"]["class"] == rows["seven.png"]["label"]
        and rows["seven.png"]["error"] == ""
    )
    assert rows["notes.png"]["label"] == "" and "not a readable image" in rows["notes.png"]["error"]
    log = (folder / "predict.log").read_text()
    assert "seven.png" in log and "notes.png" in log
