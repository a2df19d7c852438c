"""Kaggle through the official client: credentials, calls, failures, download, allowance, submit."""
