#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_grpc::fuzzing::service_token(data));
