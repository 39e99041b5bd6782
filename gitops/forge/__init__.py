"""Forges: where issues, comments and phase PRs go (Markdown files locally, GitHub in Actions)."""
from gitops.forge.base import Forge
from gitops.forge.local import LocalForge

__all__ = ["Forge", "LocalForge"]
