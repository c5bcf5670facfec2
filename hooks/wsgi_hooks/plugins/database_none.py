"""No database: the app has no models and no migrations."""
