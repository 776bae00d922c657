"""The lowest layer: MNIST's files, the data module, the models and the LightningModule.

Also the torch-free pieces every layer above needs (errors, names of valid choices, override
parsing). Nothing here imports from the layers above (records, setup, pipelines, cli).
"""
