"""Prediction: the Predictor, streaming over pixel files, image prediction and the files written from it."""
