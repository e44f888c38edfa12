//! Portcullis proxy role (built in its own issue).
