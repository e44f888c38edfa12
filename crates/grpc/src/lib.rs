//! Portcullis grpc role (built in its own issue).
