"""Widgets: show data, never call a backend."""
