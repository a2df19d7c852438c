"""`python -m jobs ...`: the same CLI as `kaggle-job`, and the entry torchrun launches on every rank
(`torchrun --standalone --nproc-per-node 2 -m jobs predict ...`; see docs/scaling.md)."""

from jobs.cli import main

main()
