"""kaggle-job's library: data, models, training, inference, submissions, Kaggle access."""

__version__ = "0.1.0"
