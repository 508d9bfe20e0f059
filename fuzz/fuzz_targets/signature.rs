#![no_main]
//! libFuzzer entry point of the `signature` target (see `maxstorage_fuzz_targets::signature`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::signature(data);
});
