//! The prelude's helper functions, kept for each context so that a call does not look them up
//! by name.

use rquickjs::{Constructor, Ctx, Function, Object, Persistent};

use crate::engine::{Failure, js};

macro_rules! helpers {
    ($($field:ident: $ty:ident = $name:literal,)*) => {
        /// The prelude's helpers, in a context.
        pub(crate) struct Helpers<'js> {
            $(pub(crate) $field: $ty<'js>,)*
        }

        /// The prelude's helpers, kept across calls.
        pub(crate) struct SavedHelpers {
            $($field: Persistent<$ty<'static>>,)*
        }

        impl SavedHelpers {
            /// Takes the helpers from the object the prelude returned.
            pub(crate) fn save<'js>(ctx: &Ctx<'js>, obj: &Object<'js>) -> Result<Self, Failure> {
                Ok(SavedHelpers {
                    $($field: Persistent::save(ctx, obj.get::<_, $ty<'js>>($name).map_err(js)?),)*
                })
            }

            /// The helpers in `ctx` (the context they were saved from).
            pub(crate) fn restore<'js>(&self, ctx: &Ctx<'js>) -> Result<Helpers<'js>, Failure> {
                Ok(Helpers {
                    $($field: self.$field.clone().restore(ctx).map_err(js)?,)*
                })
            }
        }
    };
}

helpers! {
    set_now: Function = "setNow",
    seed: Function = "seed",
    snapshot: Function = "snapshot",
    cleanup: Function = "cleanup",
    input: Function = "input",
    kind: Function = "kind",
    unbox: Function = "unbox",
    iso: Function = "iso",
    to_array: Function = "toArray",
    to_text: Function = "toText",
    date: Constructor = "Date",
    object_prototype: Object = "objectPrototype",
}
