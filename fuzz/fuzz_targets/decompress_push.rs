#![no_main]
//! libFuzzer entry point of the `decompress_push` target (see `maxstorage_fuzz_targets::decompress_push`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::decompress_push(data);
});
