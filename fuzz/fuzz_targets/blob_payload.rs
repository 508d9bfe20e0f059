#![no_main]
//! libFuzzer entry point of the `blob_payload` target (see `maxstorage_fuzz_targets::blob_payload`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::blob_payload(data);
});
