//! The shape shared by the named response futures of middleware that either passes a request
//! on, answers it at once, or must await something first: each module wraps [`Branch`] in its
//! own `ResponseFuture`, so no public type is a bare `Either`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::Response;
use pin_project_lite::pin_project;

/// A boxed future answering with a response.
pub(crate) type Boxed<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

pin_project! {
    /// The inner service's future, a response already decided, or a boxed future.
    #[project = Projected]
    pub(crate) enum Branch<F, E> {
        Inner { #[pin] future: F },
        Answered { response: Option<Response> },
        Boxed { future: Boxed<E> },
    }
}

impl<F, E> Branch<F, E> {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Branch::Inner { .. } => "inner",
            Branch::Answered { .. } => "answered",
            Branch::Boxed { .. } => "boxed",
        }
    }
}

impl<F, E> Future for Branch<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Inner { future } => future.poll(cx),
            Projected::Answered { response } => Poll::Ready(Ok(response.take().expect("polled after completion"))),
            Projected::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

/// Declares `ResponseFuture<F, E>` around a [`Branch`], with its `Debug` and `Future`.
macro_rules! response_future {
    ($(#[$doc:meta])* $service:ident) => {
        pin_project_lite::pin_project! {
            $(#[$doc])*
            pub struct ResponseFuture<F, E> {
                #[pin]
                branch: crate::future::Branch<F, E>,
            }
        }

        impl<F, E> ResponseFuture<F, E> {
            fn inner(future: F) -> Self {
                ResponseFuture { branch: crate::future::Branch::Inner { future } }
            }

            #[allow(dead_code)]
            fn answered(response: axum::response::Response) -> Self {
                ResponseFuture { branch: crate::future::Branch::Answered { response: Some(response) } }
            }

            #[allow(dead_code)]
            fn boxed(future: crate::future::Boxed<E>) -> Self {
                ResponseFuture { branch: crate::future::Branch::Boxed { future } }
            }
        }

        impl<F, E> std::fmt::Debug for ResponseFuture<F, E> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(concat!(stringify!($service), "::ResponseFuture"))
                    .field("state", &self.branch.name())
                    .finish()
            }
        }

        impl<F, E> std::future::Future for ResponseFuture<F, E>
        where
            F: std::future::Future<Output = Result<axum::response::Response, E>>,
        {
            type Output = Result<axum::response::Response, E>;

            fn poll(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Self::Output> {
                self.project().branch.poll(cx)
            }
        }
    };
}

pub(crate) use response_future;
