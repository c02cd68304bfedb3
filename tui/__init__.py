"""imgtui: browse and manage container images from the terminal."""

__version__ = "0.1.0"
