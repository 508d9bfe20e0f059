//! TEMPORARY stand-in replaced by the frames branch.
/// Frame error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frame error")]
pub enum FrameError {}
