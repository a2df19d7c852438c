"""The scheduled job's pieces: the home lock, publishing a run's folder, its manifest, the submit policy."""
