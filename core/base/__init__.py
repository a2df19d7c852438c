"""What every other part builds on: errors and exit codes, logging, atomic files, hashing, the home, retries."""
