"""Ray Serve deployments that adapt the engines, storage, safety and provenance libraries."""
