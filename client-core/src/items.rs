//! How the clients' iterators and streams of batches and blobs end: at their end, or
//! with their first error as their last item.

use crate::error::Result;

/// The next item of an iterator or stream that ends at its first error: `next` (the next
/// value, `None` at the end, or an error) as an item, setting `done` at the end or at an
/// error.
pub fn fuse<T>(next: Result<Option<T>>, done: &mut bool) -> Option<Result<T>> {
    let item = next.transpose();
    *done = !matches!(item, Some(Ok(_)));
    item
}

#[cfg(test)]
mod tests {
    use super::fuse;
    use crate::error::Error;

    #[test]
    fn an_iterator_ends_at_its_end_or_after_its_first_error() {
        let mut done = false;
        assert_eq!(fuse(Ok(Some(1)), &mut done).map(|r| r.ok()), Some(Some(1)));
        assert!(!done);
        assert!(fuse::<i32>(Ok(None), &mut done).is_none());
        assert!(done);
        let mut done = false;
        let item = fuse::<i32>(Err(Error::Internal("broken")), &mut done);
        assert!(matches!(item, Some(Err(Error::Internal("broken")))));
        assert!(done);
    }
}
