"""Provenance: the code's fingerprints and a result set's provenance (fingerprint, with the
committed values in fingerprints.json next to it) and how the docs quote result sets
(doc_quotes). Writing files whole (acai_repro.files) lies one floor down: every wing writes.

The door is acai_repro.provenance.fingerprint (`python -m acai_repro.fingerprint`).
"""
