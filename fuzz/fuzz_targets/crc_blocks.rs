#![no_main]
//! libFuzzer entry point of the `crc_blocks` target (see `maxstorage_fuzz_targets::crc_blocks`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    maxstorage_fuzz_targets::crc_blocks(data);
});
