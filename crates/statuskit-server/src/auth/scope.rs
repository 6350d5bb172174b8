//! Scopes: `customers:read`, `customers:write`, `admin`.

use std::fmt;

/// One scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read customers.
    CustomersRead,
    /// Create, change and delete customers.
    CustomersWrite,
    /// Operate the service.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::CustomersRead, Scope::CustomersWrite, Scope::Admin];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CustomersRead => "customers:read",
            Scope::CustomersWrite => "customers:write",
            Scope::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A scope name that is not one of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope.
    pub fn all() -> Self {
        Scope::ALL.iter().fold(Scopes(0), |s, x| s.with(*x))
    }

    /// Adds one.
    #[must_use]
    pub fn with(self, scope: Scope) -> Self {
        Scopes(self.0 | scope.bit())
    }

    /// Parses a space-delimited list (RFC 6749 §3.3); the first unknown scope is an error.
    pub fn parse(list: &str) -> Result<Self, UnknownScope> {
        let mut out = Scopes(0);
        for name in list.split(' ').filter(|s| !s.is_empty()) {
            let scope = Scope::ALL.iter().find(|s| s.as_str() == name).ok_or_else(|| UnknownScope(name.to_owned()))?;
            out = out.with(*scope);
        }
        Ok(out)
    }

    /// `true` if `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// `true` if every scope of `self` is in `other`.
    pub fn is_subset(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    /// The scopes in both sets.
    pub fn intersect(self, other: Scopes) -> Self {
        Scopes(self.0 & other.0)
    }

    /// `true` if empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scope::ALL.iter().filter(|s| self.contains(**s)).map(|s| s.as_str()).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let s = Scopes::parse("admin  customers:read").unwrap();
        assert_eq!(s.to_string(), "customers:read admin");
        assert!(s.contains(Scope::Admin) && !s.contains(Scope::CustomersWrite));
        assert_eq!(Scopes::parse("customers:delete"), Err(UnknownScope("customers:delete".into())));
        assert!(Scopes::parse("admin").unwrap().is_subset(Scopes::all()));
        assert!(!Scopes::all().is_subset(Scopes::parse("admin").unwrap()));
    }
}
