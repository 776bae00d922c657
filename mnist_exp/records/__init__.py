"""What a run writes and how it is read back: status.json, metrics.csv, figures, the Lightning
callbacks that write them, and the TensorBoard HParams record. Imports only from the core."""
