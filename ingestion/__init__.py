"""Ingestion: the catalog, the Celery app and tasks, and the parse → chunk → embed → index pipeline."""
