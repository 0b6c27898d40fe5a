"""Writes. Everything that changes domain data goes through these functions."""
