#![no_main]
//! libFuzzer entry point of the `decompress` target (see `maxstorage_fuzz_targets::decompress`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::decompress(data);
});
