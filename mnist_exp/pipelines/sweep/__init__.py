"""Many runs: each sweep job's handling and the Hydra callback that reports a sweep, the SLURM and
local submitit launchers and their queue, mnist-exp's Optuna sweeper and the trial's pruning
reporter, a sweep's MLflow parent run.

`SweepCallback` is exported here under the name that conf/hydra/default.yaml, and so every
recorded multirun.yaml since the first release, gives it: `mnist_exp.pipelines.sweep.SweepCallback`.
"""

from mnist_exp.pipelines.sweep.jobs import SweepCallback

__all__ = ["SweepCallback"]
