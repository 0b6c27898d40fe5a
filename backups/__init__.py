"""Backups: one archive with the database, the model store and the uploads, and its restore."""
