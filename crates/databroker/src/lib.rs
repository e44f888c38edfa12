//! Portcullis databroker role (built in its own issue).
