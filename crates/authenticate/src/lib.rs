//! Portcullis authenticate role (built in its own issue).
