//! The small serde struct the body targets decode into.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "item", deny_unknown_fields)]
pub struct Item {
    pub name: String,
    pub count: u32,
    #[serde(default)]
    pub active: bool,
}

/// The contract: a body that does not decode is 400 (syntax) or 422 (data), nothing else.
pub fn assert_400_or_422(problem: &statuskit::Problem) {
    let code = problem.status().code.as_u16();
    assert!(code == 400 || code == 422, "status {code}: {}", problem.detail());
}
