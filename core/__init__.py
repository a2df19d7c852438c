"""kaggle-job's library, in subpackages by concern. Read them top to bottom; each imports only those above it,
exactly the ones listed after it:

    core/base     errors and exit codes, logging, atomic files, hashing, the home's layout, retries,
                  memory and signal handling, the thread budget, numbers from the environment,
                  how a row orders a colour pixel's channels; imports nothing of ours
    core/data     pixel files (layout, streaming reader, error reporting, whole tables), pixels in
                  memory, images, archives, the demo competition, competition folders and the
                  sample submission; base
    core/model    the model registry, networks, ensembles, ModelSpec and `to_input`, checkpoints,
                  devices; base
    core/dist     running under torchrun: the process group, collectives that share outcomes and
                  time out, which rows of a file each rank reads; base, data
    core/predict  the Predictor, models in memory, streaming prediction over a file, image
                  prediction, output files, pixels checked against the model's trained range;
                  base, data, model, dist (never train: predicting does not load the training stack)
    core/report   metrics, pictures, the HTML score report, `inspect`; base, data, predict
    core/train    config and presets, the training loop, augmentation, schedule, resume state,
                  history, ensemble members; base, data, model, dist, report (for the curves)
    core/kaggle   the Kaggle client alone: credentials, client calls, request timeouts, failure
                  translation, download, daily allowance; base, data
    core/run      the scheduled job (job) and `submit` over one upload flow (flow): lock, publish,
                  manifest, submit policy, the exactly-once upload ledger; base, data, model, dist,
                  predict, train, kaggle

    core/api      the public face (core/api.py): the calls the CLI makes, for Python callers; any
                  subpackage, and nothing in core imports it

Nothing in core imports jobs/ (the CLI). tests/test_layout.py enforces the rule by reading every
module's imports, fails on a listed import that nothing uses, and fails on any import cycle.
"""

__version__ = "0.1.0"
