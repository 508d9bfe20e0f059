//! TEMPORARY stand-in replaced by the schema branch.
/// Retryable statuses.
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}
