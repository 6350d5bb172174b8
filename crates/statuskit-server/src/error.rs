//! The one place where store failures become problems: a duplicate unique field is 422 with the
//! field's message (seed 002), a concurrent change that outlived our retries is 409, and anything
//! else is a logged 500.

use statuskit::validate::FieldErrors;
use statuskit::Problem;

use crate::store::StoreError;

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        match e {
            StoreError::Duplicate(field) => {
                let mut errors = FieldErrors::new();
                errors.add(field, "has already been taken");
                Problem::unprocessable_entity(errors)
            }
            StoreError::VersionMoved | StoreError::IdTaken => {
                Problem::conflict("the resource changed while this request was applied; read it again and retry")
            }
            e @ StoreError::NoFreeId => Problem::internal_server_error(e),
            StoreError::Other(e) => Problem::internal_server_error(e),
        }
    }
}
