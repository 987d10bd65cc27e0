"""Provenance: the code's fingerprints and a result set's provenance (fingerprint, with the
committed values in fingerprints.json next to it), how the docs quote result sets (doc_quotes),
and writing files whole (files).

The door is acai_repro.provenance.fingerprint (`python -m acai_repro.fingerprint`).
"""
