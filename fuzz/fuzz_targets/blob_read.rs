#![no_main]
//! libFuzzer entry point of the `blob_read` target (see `maxstorage_fuzz_targets::blob_read`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::blob_read(data);
});
