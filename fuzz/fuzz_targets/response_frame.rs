#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| yhsm_proto::fuzzing::response_frame(data));
