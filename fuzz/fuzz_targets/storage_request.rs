#![no_main]
//! libFuzzer entry point of the `storage_request` target (see `maxstorage_fuzz_targets::storage_request`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::storage_request(data);
});
