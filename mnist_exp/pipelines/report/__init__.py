"""Reading runs back: a sweep's report and summary (seeds folded), its figures, the report over
any runs, and whether a re-run reproduced its original. Torch-free: it reads folders' files only,
so `mnist-exp-report` answers without importing the training stack (a test checks)."""
