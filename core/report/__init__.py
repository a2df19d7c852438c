"""What people look at: metrics, pictures, the HTML score report and `inspect`."""
