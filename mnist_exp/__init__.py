"""mnist-exp: Hydra-configured Lightning experiments with the classic MNIST classifiers."""

__version__ = "0.1.0"
