"""Analysis shared by every backend: Dockerfile reconstruction, layer trees."""
