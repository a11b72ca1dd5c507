//! Paging input: cursors and limits never panic, and every accepted cursor encodes back to
//! itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orgd::domain::paging::{Cursor, Page};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(cursor) = Cursor::decode(text) {
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }
    let limit = data.first().map(|b| u32::from(*b) * 5);
    let offset = data
        .get(1..9)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    if let Ok(page) = Page::parse(limit, offset, Some(text)) {
        assert!((1..=1000).contains(&page.limit));
        assert!(page.offset <= orgd::domain::paging::MAX_OFFSET);
    }
});
