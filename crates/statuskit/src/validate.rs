//! Validation: the step after parsing, answering 422 with one `errors` entry per failing field.
//!
//! ```
//! use statuskit::validate::{FieldErrors, Validate};
//!
//! struct NewCustomer { name: String }
//!
//! impl Validate for NewCustomer {
//!     fn validate(&self, errors: &mut FieldErrors) {
//!         if self.name.trim().is_empty() {
//!             errors.add("name", "can't be blank");
//!         }
//!     }
//! }
//!
//! let problem = NewCustomer { name: " ".into() }.check().unwrap_err();
//! assert_eq!(problem.status().code, 422);
//! assert_eq!(problem.errors().unwrap().get("name").unwrap(), ["can't be blank"]);
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::problem::Problem;

/// Field path (`name`, `address.zip`, `items[3].name`) → messages, in path order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one message for `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// `true` when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many fields failed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The messages for one field.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.0.get(field).map(Vec::as_slice)
    }

    /// Every field with its messages, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Moves every entry of `other` under `prefix` (e.g. `items[3]` + `name` = `items[3].name`).
    pub fn merge_under(&mut self, prefix: &str, other: FieldErrors) {
        for (field, messages) in other.0 {
            let path = if prefix.is_empty() { field } else { format!("{prefix}.{field}") };
            self.0.entry(path).or_default().extend(messages);
        }
    }

    /// `Ok(())` when empty, else the 422 problem.
    pub fn into_result(self) -> Result<(), Problem> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Problem::unprocessable_entity(self))
        }
    }
}

/// A request body that can say which of its fields are invalid.
pub trait Validate {
    /// Adds a message for every failing field.
    fn validate(&self, errors: &mut FieldErrors);

    /// Runs [`Validate::validate`] and answers 422 if anything failed.
    fn check(&self) -> Result<(), Problem> {
        let mut errors = FieldErrors::new();
        self.validate(&mut errors);
        errors.into_result()
    }
}
