"""Content: CIDs, UnixFS files, the local content-addressed store and CAR export."""
