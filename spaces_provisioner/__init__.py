"""Parta's provisioning service, reconciler and command line (see DESIGN.md, "Components")."""
