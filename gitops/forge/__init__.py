"""Forges: where issues, comments and phase PRs go (Markdown files locally; GitHub in gitops.github.forge)."""
