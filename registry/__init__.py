"""The agency registry: who is watched, where their report column is, and how a report names its agency.

``agencies`` loads, validates and converts registry files (YAML/CSV; the shipped one is ``data/registry.yaml``)
and attributes a report to an agency by name and aliases; ``catalog_sync`` copies the agencies into the catalog.
"""
