//! Paging: `limit` with either `offset` or an opaque keyset cursor `after`.

use uuid::Uuid;

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
/// Deeper pages are for `after`, which stays fast.
pub const MAX_OFFSET: u64 = 1_000_000_000;

/// A keyset position: the sort key of the last item of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Lists ordered by id (UUIDv7, so creation order).
    Id(Uuid),
    /// Lists ordered by a timestamp, ties broken by id.
    At(i64, Uuid),
}

impl Cursor {
    pub fn encode(self) -> String {
        match self {
            Cursor::Id(id) => format!("i{}", id.simple()),
            Cursor::At(ms, id) => format!("t{ms}_{}", id.simple()),
        }
    }
    pub fn decode(s: &str) -> Option<Cursor> {
        if let Some(rest) = s.strip_prefix('i') {
            return Uuid::try_parse(rest).ok().map(Cursor::Id);
        }
        let rest = s.strip_prefix('t')?;
        let (ms, id) = rest.split_once('_')?;
        Some(Cursor::At(ms.parse().ok()?, Uuid::try_parse(id).ok()?))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
    /// The client paged with `offset`, so the next page is announced the same way.
    pub by_offset: bool,
    pub after: Option<Cursor>,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: DEFAULT_LIMIT,
            offset: 0,
            by_offset: false,
            after: None,
        }
    }
}

impl Page {
    /// Checks the raw query values; the error names the offending parameter.
    pub fn parse(
        limit: Option<u32>,
        offset: Option<u64>,
        after: Option<&str>,
    ) -> Result<Page, (&'static str, String)> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        if offset.is_some_and(|o| o > MAX_OFFSET) {
            return Err((
                "offset",
                format!("must be at most {MAX_OFFSET}; use after for deep pages"),
            ));
        }
        let after = match after {
            None => None,
            Some(s) => {
                Some(Cursor::decode(s).ok_or(("after", "is not a valid cursor".to_string()))?)
            }
        };
        Ok(Page {
            limit,
            offset: offset.unwrap_or(0),
            by_offset: offset.is_some(),
            after,
        })
    }

    /// How many rows to fetch: one more than the page, to learn whether a next page exists.
    pub fn fetch(&self) -> i64 {
        self.limit as i64 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let id = Uuid::now_v7();
        for c in [Cursor::Id(id), Cursor::At(1_700_000_000_123, id)] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        for bad in [
            "",
            "x",
            "i123",
            "t12_",
            "tabc_0190a6e47c2b7d4e8f00123456789abc",
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn page_bounds() {
        assert_eq!(Page::parse(None, None, None).unwrap(), Page::default());
        assert!(Page::parse(Some(0), None, None).is_err());
        assert!(Page::parse(Some(1001), None, None).is_err());
        assert!(Page::parse(Some(1000), Some(5), None).is_ok());
        // Both: the offset counts from the cursor.
        let both = Page::parse(None, Some(1), Some("i0190a6e47c2b7d4e8f00123456789abc")).unwrap();
        assert_eq!((both.offset, both.by_offset), (1, true));
        assert_eq!(
            Page::parse(None, None, Some("nope")).unwrap_err().0,
            "after"
        );
    }
}
