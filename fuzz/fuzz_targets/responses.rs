#![no_main]
//! libFuzzer entry point of the `responses` target (see `maxstorage_fuzz_targets::responses`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::responses(data);
});
