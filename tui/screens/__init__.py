"""Screens: they call the backend (in thread workers) and hand the results to widgets."""
