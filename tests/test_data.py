"""The data module on tiny IDX files (real torchvision loading) and on the real test set."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mnist_exp.core import idx
from mnist_exp.core.data import MNISTDataModule, TensorBatches
from mnist_exp.core.errors import UserError


def dm(root: Path, **kw) -> MNISTDataModule:
    kw.setdefault("verify", False)  # tiny files are not the official ones
    kw.setdefault("download", False)
    module = MNISTDataModule(root=str(root), **kw)
    module.prepare_data()
    module.setup("fit")
    return module


def all_batches(loader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*list(loader), strict=True)
    return torch.cat(xs), torch.cat(ys)


def sample_ids(x: torch.Tensor, pad: int = 2, mean: float = 0.5, std: float = 1.0) -> list[int]:
    """Recover each image's index from its first pixel (make_tiny_mnist writes it there)."""
    return torch.round((x[:, 0, pad, pad] * std + mean) * 255).long().tolist()


def test_split_sizes_and_shapes(tiny_root: Path) -> None:
    module = dm(tiny_root, val_size=10, batch_size=8, eval_batch_size=7)
    x, y = all_batches(module.train_dataloader())
    assert x.shape == (50, 1, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    vx, _ = all_batches(module.val_dataloader())
    tx, _ = all_batches(module.test_dataloader())
    assert len(vx) == 10 and len(tx) == 20
    assert len(module.train_dataloader()) == 7  # ceil(50 / 8)
    assert not set(sample_ids(x)) & set(sample_ids(vx))  # held-out images never train


def test_val_size_zero_validates_on_test_set(tiny_root: Path) -> None:
    module = dm(tiny_root, val_size=0)
    vx, vy = all_batches(module.val_dataloader())
    tx, ty = all_batches(module.test_dataloader())
    assert torch.equal(vx, tx) and torch.equal(vy, ty)
    assert len(all_batches(module.train_dataloader())[0]) == 60


@pytest.mark.parametrize("storage", ["float32", "uint8"])
def test_tensor_loader_equals_torchvision(tiny_root: Path, storage: str) -> None:
    fast = dm(tiny_root, val_size=10, loader="tensor", storage=storage)
    ref = dm(tiny_root, val_size=10, loader="torchvision")
    for split in ("val", "test"):
        fx, fy = all_batches(getattr(fast, f"{split}_dataloader")())
        rx, ry = all_batches(getattr(ref, f"{split}_dataloader")())
        assert torch.equal(fy, ry)
        assert (fx - rx).abs().max() <= 1e-6
    # the training set holds the same images (orders differ: each loader shuffles its own way)
    fx, _ = all_batches(fast.train_dataloader())
    rx, _ = all_batches(ref.train_dataloader())
    assert sorted(sample_ids(fx)) == sorted(sample_ids(rx))


def test_real_test_set_equals_torchvision(mnist_root: Path) -> None:
    """The whole official test set through both pipelines: the same tensors."""
    fast = dm(mnist_root, val_size=0, verify=True)
    ref = dm(mnist_root, val_size=0, loader="torchvision", verify=True)
    fx, fy = all_batches(fast.test_dataloader())
    rx, ry = all_batches(ref.test_dataloader())
    assert fx.shape == (10000, 1, 32, 32)
    assert torch.equal(fy, ry)
    assert (fx - rx).abs().max().item() <= 1e-6


def test_each_epoch_covers_every_image_once_in_a_new_order(tiny_root: Path) -> None:
    module = dm(tiny_root, val_size=0, batch_size=16, shuffle_seed=3)
    epoch = {"n": 0}
    loader = module.train_dataloader()
    loader.epoch_fn = lambda: epoch["n"]
    orders = []
    for n in range(3):
        epoch["n"] = n
        ids = sample_ids(all_batches(loader)[0])
        assert sorted(ids) == list(range(60))
        orders.append(ids)
    assert orders[0] != orders[1] != orders[2]
    epoch["n"] = 1
    assert sample_ids(all_batches(loader)[0]) == orders[1]  # an epoch's order is reproducible


def test_ddp_shards_are_disjoint_and_complete() -> None:
    images = torch.arange(10).float().view(10, 1, 1, 1)
    labels = torch.arange(10)
    shards = [
        all_batches(TensorBatches(images, labels, 3, shuffle=True, seed=1, rank=r, world_size=3))[1]
        for r in range(3)
    ]
    assert [len(s) for s in shards] == [4, 4, 4]  # equal lengths, so no rank waits on another
    seen = torch.cat(shards).tolist()
    assert set(seen) == set(range(10))
    assert len(set(seen)) == 10 and len(seen) == 12  # 2 wrapped-around repeats only


def test_missing_files_message(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        dm(tmp_path / "nowhere", download=False)
    text = str(err.value)
    assert "MNIST not found" in text and "data.root" in text
    for name in idx.FILES:
        assert name in text


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b"\x00\x00\x09\x99" + b[4:], "magic number"),
        (lambda b: b[:4] + (999).to_bytes(4, "big") + b[8:], "header announces 999"),
    ],
)
def test_damaged_files_are_refused(tiny_root: Path, damage, message: str) -> None:
    path = idx.raw_dir(tiny_root) / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(UserError, match=message):
        dm(tiny_root)


def test_checksum_mismatch_is_refused(tiny_root: Path) -> None:
    with pytest.raises(UserError, match="SHA-256"):
        dm(tiny_root, verify=True)
