"""Models: the registry, the networks, ensembles, checkpoints and devices.

Importing the package registers every architecture, so `build_model` / `ModelSpec.build` know them all.
"""

from core.model import ensemble, networks  # noqa: F401  (they register themselves)
