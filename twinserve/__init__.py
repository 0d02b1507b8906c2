"""twinserve: measure, then decide how to serve a model on AWS."""

__version__ = "0.1.0"
