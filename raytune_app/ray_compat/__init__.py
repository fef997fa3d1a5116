"""Ray's private names and file formats, fenced in one place."""
