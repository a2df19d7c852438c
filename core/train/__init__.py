"""Training: config and presets, the loop, augmentation, schedule, resume state, history, ensembles."""
