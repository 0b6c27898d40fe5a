"""Project package: settings, Celery app, URLs."""

from chexgold.celery import app as celery_app

__all__ = ("celery_app",)
