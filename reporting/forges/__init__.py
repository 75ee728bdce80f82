"""Forge adapters (GitHub, GitLab) implementing one protocol."""
