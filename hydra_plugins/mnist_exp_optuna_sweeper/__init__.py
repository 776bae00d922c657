"""mnist-exp's Optuna sweeper, registered where Hydra looks for plugins (the hydra_plugins package)."""
