"""The MNIST family as data: each preset's files, where they come from, the checksums published for
them, and its class names (`data.dataset`; conf/data/<name>.yaml chooses one).

Torch-free: the start-up checks read this before the training stack is imported. The figures
are torchvision's (torchvision/datasets/mnist.py) and the datasets' own pages: MNIST's files have
official SHA-256 sums of the uncompressed files (core/idx checks them); for the others only the
sums of the published archives exist (torchvision's MD5s), so those are what is checked, and the
uncompressed files are compared with the archive they came from (core/idx).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

IMAGES, LABELS = 2051, 2049  # the IDX magic numbers of an image file and a label file
DIGITS = tuple(string.digits)
ROMAJI = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")  # KMNIST's classes, romanized


@dataclass(frozen=True)
class Dataset:
    """One preset: `files` maps each uncompressed IDX file (as it lies in `<root>/<folder>/raw/`)
    to (magic, official item count); `archives` maps each published archive to the files it holds
    (their path inside it); `sums` maps a file or archive to its published checksum (SHA-256 or MD5,
    told by length)."""

    name: str
    title: str  # as its authors write it, for messages
    folder: str
    train: tuple[str, str]  # (images, labels)
    test: tuple[str, str]
    counts: tuple[int, int]  # official (train, test) item counts
    archives: dict[str, dict[str, str]]
    sums: dict[str, str]
    mirrors: tuple[str, ...]
    classes: tuple[str, ...]
    transposed: bool = False  # EMNIST stores each image transposed: trained and shown upright
    label_offset: int = 0  # EMNIST letters number a..z from 1: trained as classes 0..25
    side: int = 28
    files: dict[str, tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        files = {}
        for (images, labels), count in zip((self.train, self.test), self.counts, strict=True):
            files[images], files[labels] = (IMAGES, count), (LABELS, count)
        object.__setattr__(self, "files", files)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def archive_of(self, name: str) -> tuple[str, str] | None:
        """(archive, member) that holds the file `name`, if it comes from one."""
        for archive, members in self.archives.items():
            if name in members:
                return archive, members[name]
        return None


STANDARD = (
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)


def _gz(names: tuple[tuple[str, str], ...]) -> dict[str, dict[str, str]]:
    """MNIST-style publishing: each IDX file compressed alone, as <name>.gz."""
    return {f"{n}.gz": {n: n} for pair in names for n in pair}


def _as_mnist(name: str, title: str, folder: str, sums: tuple[str, ...], mirror: str, classes) -> Dataset:
    """A dataset published as MNIST is: 60,000 + 10,000 images, its four IDX files each a .gz of
    its own; `sums` their published MD5s, in STANDARD's order."""
    gz = [f"{n}.gz" for pair in STANDARD for n in pair]
    return Dataset(
        name=name,
        title=title,
        folder=folder,
        train=STANDARD[0],
        test=STANDARD[1],
        counts=(60_000, 10_000),
        archives=_gz(STANDARD),
        sums=dict(zip(gz, sums, strict=True)),
        mirrors=(mirror,),
        classes=tuple(classes),
    )


MNIST = Dataset(
    name="mnist",
    title="MNIST",
    folder="MNIST",
    train=STANDARD[0],
    test=STANDARD[1],
    counts=(60_000, 10_000),
    archives=_gz(STANDARD),
    sums={  # the uncompressed files' official SHA-256 (what mnist-exp trains on)
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    classes=DIGITS,
)
FASHION_MNIST = _as_mnist(
    "fashion_mnist",
    "Fashion-MNIST",
    "FashionMNIST",
    (
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
)
KMNIST = _as_mnist(
    "kmnist",
    "KMNIST",
    "KMNIST",
    (
        "bdb82020997e1d708af4cf47b453dcf7",
        "e144d726b3acfaa3e44228e80efcd344",
        "5c965bf0a639b31b8f53240b1b52f4d7",
        "7320c461ea6c1c855c0b718fb2a4b134",
    ),
    "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    # the hiragana of kmnist_classmap.csv, with their romanization (what fonts without kana draw)
    (f"{kana} ({roman})" for kana, roman in zip("おきすつなはまやれを", ROMAJI, strict=True)),
)
EMNIST_ZIP = "gzip.zip"
EMNIST_MD5 = "58c8d27c78d21e728a6bc7b3cc06412e"  # the whole archive (all six splits, 562 MB)
_MERGED = set("cijklmopsuvwxyz")  # lowercase letters EMNIST merges into their capitals


def _emnist(split: str, counts: tuple[int, int], classes: tuple[str, ...], offset: int = 0) -> Dataset:
    prefix = f"emnist-{split}"
    train = (f"{prefix}-train-images-idx3-ubyte", f"{prefix}-train-labels-idx1-ubyte")
    test = (f"{prefix}-test-images-idx3-ubyte", f"{prefix}-test-labels-idx1-ubyte")
    return Dataset(
        name=f"emnist_{split}",
        title=f"EMNIST {split}",
        folder="EMNIST",
        train=train,
        test=test,
        counts=counts,
        archives={EMNIST_ZIP: {n: f"gzip/{n}.gz" for n in (*train, *test)}},
        sums={EMNIST_ZIP: EMNIST_MD5},
        mirrors=("https://biometrics.nist.gov/cs_links/EMNIST/",),
        classes=classes,
        transposed=True,
        label_offset=offset,
    )


EMNIST_BALANCED = _emnist(
    "balanced",
    (112_800, 18_800),
    tuple(sorted(set(string.digits + string.ascii_letters) - _MERGED)),  # torchvision's order, 47
)
EMNIST_LETTERS = _emnist("letters", (124_800, 20_800), tuple(string.ascii_lowercase), offset=1)
EMNIST_DIGITS = _emnist("digits", (240_000, 40_000), DIGITS)

FOLDER = "folder"  # data=folder: a folder of the user's own images (core/folder), no preset
MAX_FOLDER_CLASSES = 1000  # more class folders than this is not a folder of labelled images
PRESETS: dict[str, Dataset] = {
    d.name: d for d in (MNIST, FASHION_MNIST, KMNIST, EMNIST_BALANCED, EMNIST_LETTERS, EMNIST_DIGITS)
}


def preset(name: str) -> Dataset:
    """The preset `data.dataset` names (validate has refused unknown names already)."""
    return PRESETS[name]
