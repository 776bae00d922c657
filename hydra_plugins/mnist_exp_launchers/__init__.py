"""mnist-exp's submitit launchers (`hydra/launcher=slurm`, `hydra/launcher=submitit_local`),
registered where Hydra looks for plugins (the hydra_plugins package)."""
