//! The glue between the WIT export and [`Connector`]: [`export_connector!`] and the
//! function it calls for each request.

use crate::bindings::exports::outpost::connector::handler;
use crate::{Action, ActionResult, Connector, Status};

/// Registers a [`Connector`] as the component's `outpost:connector/handler` export.
///
/// Use it once, at the root of the connector crate:
///
/// ```ignore
/// struct Qa;
/// impl outpost_app::Connector for Qa { /* ... */ }
/// outpost_app::export_connector!(Qa);
/// ```
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        #[doc(hidden)]
        struct __OutpostHandler;

        impl $crate::bindings::exports::outpost::connector::handler::Guest for __OutpostHandler {
            fn handle(
                request: $crate::bindings::outpost::connector::types::Request,
            ) -> $crate::bindings::outpost::connector::types::ActionResult {
                $crate::__private::handle::<$connector>(request)
            }
        }

        $crate::bindings::__export_connector_world!(__OutpostHandler with_types_in $crate::bindings);
    };
}

/// Runs `C` on one request and converts its outcome into the WIT result.
pub fn handle<C: Connector>(request: handler::Request) -> handler::ActionResult {
    let mut result = ActionResult::new();
    let outcome = Action::from_request(request).and_then(|action| C::handle(&action, &mut result));
    if let Err(err) = outcome {
        result.set_status(Status::Failed, format!("{err:#}"));
    }
    result.into_wit()
}
