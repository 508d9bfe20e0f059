#![no_main]
//! libFuzzer entry point of the `blob_frames` target (see `maxstorage_fuzz_targets::blob_frames`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::blob_frames(data);
});
