"""kaggle-job's command line and scheduled job entry points."""
