//! The closed sets of words some `TEXT` columns hold (a token's kind, an operation's state and
//! kind, an Idempotency-Key record's state), as enums.
//!
//! Each is stored as the very word the schema's `CHECK` constraints name (`'access'`, `'queued'`,
//! `'in_flight'`, …), bound and read as text on both stores, so databases written before these
//! types existed read the same. A word the enum does not know is a decode error, not a guess.

use std::fmt;
use std::str::FromStr;

/// A word read from a column that is not one of its enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a known {what}")]
pub struct UnknownWord {
    /// What the column holds, e.g. `token kind`.
    pub what: &'static str,
    /// The word read.
    pub value: String,
}

/// Declares an enum of words, with `as_str`, `Display`, `FromStr`, and sqlx's `Type`, `Encode`
/// and `Decode` as text for any database that has them for `str` (SQLite and PostgreSQL).
macro_rules! words {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word stored (and shown to clients).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;

            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(UnknownWord { what: $what, value: s.to_owned() }),
                }
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&'r str as sqlx::Decode<'r, DB>>::decode(value)?.parse()?)
            }
        }
    };
}

words! {
    /// What a stored token is (`tokens.kind`).
    TokenKind ("token kind") {
        /// An access token: sent as `Bearer` with requests.
        Access = "access",
        /// A refresh token: exchanged once at the token endpoint for new tokens.
        Refresh = "refresh",
    }
}

words! {
    /// Where a background operation is (`operations.state`); also its `status` as clients see it.
    OperationState ("operation state") {
        /// Waiting for a worker.
        Queued = "queued",
        /// A worker holds it (under a lease).
        Running = "running",
        /// Done; its result is stored.
        Succeeded = "succeeded",
        /// Done; it could not be made (`operations.error` says why).
        Failed = "failed",
    }
}

words! {
    /// What a background operation does (`operations.kind`).
    OperationKind ("operation kind") {
        /// Makes an uploaded avatar's thumbnails.
        Avatar = "avatar",
    }
}

words! {
    /// Where an `Idempotency-Key` record is (`idempotency.state`).
    KeyState ("idempotency key state") {
        /// A request with the key is being answered.
        InFlight = "in_flight",
        /// Answered; the response is stored for replays.
        Done = "done",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_ones_are_refused() {
        for kind in TokenKind::ALL {
            assert_eq!(kind.as_str().parse::<TokenKind>(), Ok(*kind));
        }
        for state in OperationState::ALL {
            assert_eq!(state.to_string().parse::<OperationState>(), Ok(*state));
        }
        assert_eq!(KeyState::InFlight.as_str(), "in_flight");
        assert_eq!(OperationKind::Avatar.as_str(), "avatar");
        let err = "Queued".parse::<OperationState>().unwrap_err();
        assert_eq!(err.to_string(), "`Queued` is not a known operation state");
    }
}
