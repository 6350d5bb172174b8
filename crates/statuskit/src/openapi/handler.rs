//! A handler described by its signature: each argument's [`DescribeInput`], in order.

use std::future::Future;

use super::{DescribeInput, Operation};

/// A handler whose arguments are all [`DescribeInput`]s: what it can answer is what they can.
/// Implemented for every `async fn` (and closure) of up to 12 such arguments, as axum implements
/// `Handler`; `T` is the tuple of argument types.
pub trait DescribeHandler<T> {
    /// Adds to `op` what the handler's arguments can answer.
    fn describe(op: &mut Operation);
}

macro_rules! describe_handler {
    ($($ty:ident),*) => {
        impl<F, Fut, $($ty,)*> DescribeHandler<($($ty,)*)> for F
        where
            F: FnOnce($($ty,)*) -> Fut,
            Fut: Future,
            $($ty: DescribeInput,)*
        {
            #[allow(unused_variables)]
            fn describe(op: &mut Operation) {
                $($ty::describe(op);)*
            }
        }
    };
}

describe_handler!();
describe_handler!(T1);
describe_handler!(T1, T2);
describe_handler!(T1, T2, T3);
describe_handler!(T1, T2, T3, T4);
describe_handler!(T1, T2, T3, T4, T5);
describe_handler!(T1, T2, T3, T4, T5, T6);
describe_handler!(T1, T2, T3, T4, T5, T6, T7);
describe_handler!(T1, T2, T3, T4, T5, T6, T7, T8);
describe_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9);
describe_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10);
describe_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11);
describe_handler!(T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12);
