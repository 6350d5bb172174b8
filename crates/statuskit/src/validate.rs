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

    /// Refuses text that holds a [`forbidden_char`]: adds "can't contain control characters
    /// (found U+0001)" for `field` and returns `false`; `true` when `value` is clean.
    pub fn check_text(&mut self, field: &str, value: &str) -> bool {
        match forbidden_char(value) {
            None => true,
            Some(c) => {
                self.add(field, format!("can't contain control characters (found U+{:04X})", u32::from(c)));
                false
            }
        }
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

/// The first character of `text` that stored text may not hold: a control character (C0, DEL
/// or C1) other than tab, line feed and carriage return, or one of the noncharacters U+FFFE and
/// U+FFFF. None of them has a use in a name or an address, XML 1.0 cannot carry most of them at
/// all (see [`crate::xml`]), and in logs and terminals they can forge or hide text.
///
/// ```
/// use statuskit::validate::forbidden_char;
///
/// assert_eq!(forbidden_char("a\u{1}b"), Some('\u{1}'));
/// assert_eq!(forbidden_char("two\tcolumns\r\n"), None);
/// assert_eq!(forbidden_char("caf\u{e9} \u{1F600}"), None);
/// ```
pub fn forbidden_char(text: &str) -> Option<char> {
    // Nearly all text is printable ASCII or plain UTF-8: one pass over the bytes says so.
    let suspect = text.bytes().any(|b| b < 0x20 || b == 0x7F || b == 0xC2 || b == 0xEF);
    if !suspect {
        return None;
    }
    text.chars().find(|&c| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn check_text_names_the_field_and_the_character() {
        let mut e = FieldErrors::new();
        assert!(e.check_text("name", "Ada\tKing\n"));
        assert!(!e.check_text("name", "a\u{1}b"));
        assert!(!e.check_text("email", "x\u{7F}@y.z"));
        assert!(!e.check_text("note", "c1\u{85}"));
        assert!(!e.check_text("note", "\u{FFFF}"));
        assert_eq!(e.get("name").unwrap(), ["can't contain control characters (found U+0001)"]);
        assert_eq!(e.get("email").unwrap(), ["can't contain control characters (found U+007F)"]);
        assert_eq!(e.get("note").unwrap().len(), 2);
    }

    proptest! {
        #[test]
        fn the_byte_scan_misses_nothing(s in proptest::collection::vec(any::<char>(), 0..40)) {
            let text: String = s.iter().collect();
            let slow = s.iter().copied().find(|&c| {
                (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
            });
            prop_assert_eq!(forbidden_char(&text), slow);
        }
    }
}
