"""The built-in store: an OCI image layout on disk, with no daemon."""
