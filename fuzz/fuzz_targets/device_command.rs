#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| yhsm_sim::fuzzing::device_command(data));
