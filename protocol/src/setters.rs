//! `with_*` setters for the option structs of the workspace, which are
//! `#[non_exhaustive]`: other crates build them from `Default` and these setters, so a new
//! option is not a breaking change.

/// Generates, for each `setter => field: Type`, a method `setter(self, value: Type) -> Self`
/// that sets `field` (documented as setting it). Used by every crate of the workspace on
/// its option structs.
#[doc(hidden)]
#[macro_export]
macro_rules! option_setters {
    ($ty:ident { $($setter:ident => $field:ident : $fty:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
                #[must_use]
                pub fn $setter(mut self, value: $fty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}
