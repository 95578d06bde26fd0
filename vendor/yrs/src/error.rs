use crate::ID;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("{0}")]
    ReadError(#[from] crate::encoding::read::Error),
    #[error("failed to apply update: {0}")]
    UpdateError(#[from] UpdateError),
    #[error("Cannot execute this operation when document garbage collection is set")]
    Gc,
}

#[derive(Debug, Error)]
pub enum UpdateError {
    #[error("block parent {0} must be deleted or shared ref type. Type: {1}")]
    InvalidParent(ID, u8),
    /// Plenary: an item whose origin, right origin or parent lie in different
    /// shared types (or under different keys), which no real client writes.
    #[error("block {0} has a neighbour {1} in another shared type")]
    InvalidNeighbour(ID, ID),
}
