"""One run: `train(cfg) -> metrics` and its stages, safe stopping and DDP ranks; evaluating or
predicting with a checkpoint. Imports torch and Lightning."""
