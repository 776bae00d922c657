"""What a run shows: metrics.csv, accuracy.png, conv2 dumps, confusion matrix, mistakes (real runs)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mnist_exp.core.checkpoint import load_checkpoint
from mnist_exp.core.module import MNISTClassifier
from tests.conftest import scalars

pytestmark = pytest.mark.usefixtures("runs")


def test_metrics_csv_matches_the_logger(runs) -> None:
    _, _metrics, run = runs["lenet"]
    with (run / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    logged = scalars(run)
    for key in ("train/loss", "train/acc", "val/loss", "val/acc"):
        assert [float(r[key]) for r in rows] == pytest.approx(logged[key])
    assert float(rows[0]["lr"]) == pytest.approx(0.001)  # Adam's default lr in the quick runs
    with Image.open(run / "accuracy.png") as image:
        assert image.format == "PNG" and image.size[0] > 100


def test_conv2_dump_equals_feature_map_of_the_checkpoint(runs) -> None:
    _, _, run = runs["lenet"]
    folder = run / "feature_maps" / "epoch_001"
    dump = torch.load(folder / "activations.pt")
    assert dump["activations"].shape == (16, 16, 10, 10)
    assert dump["inputs"].shape == (16, 1, 32, 32) and dump["labels"].shape == (16,)
    model = load_checkpoint(run / "checkpoints" / "last.ckpt")
    with torch.no_grad():
        expected = model.net.feature_map(dump["inputs"])
    torch.testing.assert_close(dump["activations"], expected, atol=1e-5, rtol=1e-5)
    assert not (run / "feature_maps" / "epoch_000").exists()  # default: the last epoch only
    for i in range(16):
        with Image.open(folder / f"sample_{i}.png") as image:
            assert image.size == (200, 200)
    with Image.open(folder / "grid.png") as image:
        width, height = image.size  # 16 x 16 maps of 10 x 10: square, and room for each
        assert width == height >= 16 * 10


def test_test_report_pictures(runs) -> None:
    _, _, run = runs["lenet"]
    for name in ("confusion_matrix.png", "mistakes.png"):
        with Image.open(run / name) as image:
            assert image.format == "PNG"


def test_tensorboard_holds_the_pictures(runs) -> None:
    _, _, run = runs["lenet"]
    acc = EventAccumulator(str(run), size_guidance={"images": 0})
    acc.Reload()
    images = set(acc.Tags()["images"])
    assert {"accuracy", "feature_maps/conv2", "test/confusion_matrix", "test/mistakes"} <= images
    assert [e.step for e in acc.Images("feature_maps/conv2")] == [1]  # the epoch is the step
    assert len(acc.Images("accuracy")) == 1  # drawn once, when the fit ends


def test_mlp_has_no_feature_maps_and_does_not_fail(runs) -> None:
    _, metrics, run = runs["mlp"]
    assert "test/acc" in metrics
    assert not (run / "feature_maps").exists()
    assert (run / "metrics.csv").is_file() and (run / "confusion_matrix.png").is_file()


def test_model_without_the_layer_gets_one_warning(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    from mnist_exp.core.models import MLP
    from mnist_exp.records.callbacks import FeatureMapDump

    callback = FeatureMapDump(str(tmp_path))
    module = MNISTClassifier(net=MLP(), optimizer=None)
    with caplog.at_level("WARNING"):
        callback.on_fit_start(None, module)  # type: ignore[arg-type]
    assert callback._disabled
    assert [r.message for r in caplog.records] == [
        "feature maps: MLP has no layer 'conv2'; no activations are dumped."
    ]
