"""What the SDK and the workers share: settings, messages, manifests, storage, queues.

This package imports neither the SDK (`darkroom`) nor the workers
(`darkroom.workers`); both depend on it (DESIGN.md, Layout).
"""
