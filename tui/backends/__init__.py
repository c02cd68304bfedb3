"""Backends: the Backend interface and its implementations."""
