"""A registry client for the built-in store: OCI distribution API v2 over the standard library.

`client` speaks HTTP (auth challenges, retries, TLS per registry), `auth` reads and writes
docker's config.json, `pull`/`push` move images between a registry and the store, and `browse`
lists repositories, tags and remote images as plain dataclasses for the CLI and the TUI.
Nothing here imports textual or the docker SDK; `imgtui.cli` imports this package lazily.
"""
