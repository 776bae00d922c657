"""Set-up: config composition and checks, override expansion, the run-folder guards, and what
Hydra decided for this process. Torch-free, so refusing bad input and `--help` stay fast."""
