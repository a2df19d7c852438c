"""What every other part builds on: errors and exit codes, logging, atomic files, hashing, the home, retries,
the thread budget and numbers read from the environment."""
