#![no_main]
//! libFuzzer entry point of the `filter` target (see `maxstorage_fuzz_targets::filter`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::filter(data);
});
