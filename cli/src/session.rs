//! Write sessions of the commands that write (`load`, `blob put`): all the rows or none.

use maxstorage_blocking::WriteSessionHandle;

use crate::CliError;

/// Runs `write` in `session` and commits what it wrote; if it fails, aborts the session so
/// nothing of it becomes visible, and returns its error.
pub(crate) fn commit_all_or_nothing<T>(
    session: &WriteSessionHandle,
    write: impl FnOnce() -> Result<T, CliError>,
) -> Result<T, CliError> {
    match write() {
        Ok(written) => {
            session.commit()?;
            Ok(written)
        }
        Err(e) => {
            if let Err(abort) = session.abort() {
                eprintln!(
                    "maxstorage: aborting write session {}: {abort}",
                    session.id()
                );
            }
            Err(e)
        }
    }
}
