"""Runnable examples and small models (``examples.models``)."""
