#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_grpc::fuzzing::session_handle(data));
