#![no_main]
//! libFuzzer entry point of the `arrow_stream` target (see `maxstorage_fuzz_targets::arrow_stream`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::arrow_stream(data);
});
