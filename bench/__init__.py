"""kaggle-job's benchmarks, run as modules from the repository root (`python -m bench.accuracy --help`).
They measure the product through its own calls and are not installed with it.

    accuracy    accuracy on a fixed holdout of train.csv (results/accuracy.jsonl)
    averaging   one run's weight averages (EMAs, tail averages) on that holdout (results/averaging.jsonl)
    posthoc     fixes after training, on a kept checkpoint (results/posthoc.jsonl)
    train       one preset on the real train.csv: validation accuracy, epochs, wall time
    predict     `predict` against the seed notebook's way (seed_way) and the plain floor (floor): `make bench`
    scale       2 torchrun ranks against 1: `make bench-scale`
    formats     read speed of other competitions' pixel-file layouts

What several share: common (paths, the `--set` parser, the commit, CPU time and load) and holdout
(the fixed holdout, and scoring models on it).
"""
