"""SQLite: one file in the data directory, no server to run; enough for a lab's app with a few writers at a time."""
