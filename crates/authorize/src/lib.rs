//! Portcullis authorize role (built in its own issue).
