"""Darkroom's workers: the Celery tasks and one converter module per media kind.

Importing this package loads no codec; each converter imports its library
when it first runs (STYLE.md, rule 5).
"""
