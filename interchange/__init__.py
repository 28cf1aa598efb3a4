"""Interchange: one folder per format (FHIR, research exports, the EHR visit import). Formats only: what may be
released is decided by the layers below."""
