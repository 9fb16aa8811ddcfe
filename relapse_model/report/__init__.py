"""Reports: figures, provenance and the report builder."""
