//! Portcullis proto role (built in its own issue).
