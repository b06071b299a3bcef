//! Wire codes as newtypes with named constants: an unknown value (newer firmware) survives a
//! round trip and prints as hex instead of being an error.

/// Declares a `Copy` newtype over an integer with named constants, their hyphenated
/// spellings (as yubihsm-shell prints them), `name`, `from_name`, `Display`, `Debug` and
/// `FromStr` (a name, or a decimal or `0x` hex number).
macro_rules! wire_code {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($repr:ty);
        $what:literal;
        $( $(#[$cmeta:meta])* $konst:ident = $val:literal => $text:literal, )*
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: Self = Self($val); )*

            /// Every named value with its spelling, in wire-value order.
            pub const ALL: &'static [(Self, &'static str)] = &[ $( (Self($val), $text), )* ];

            /// The hyphenated name, or `None` for a value this crate does not know.
            pub fn name(self) -> Option<&'static str> {
                Self::ALL.iter().find(|(v, _)| *v == self).map(|(_, n)| *n)
            }

            /// The value whose hyphenated name is `name` (ASCII case-insensitive).
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)).map(|(v, _)| *v)
            }

            /// Whether this value has a name in this crate.
            pub fn is_known(self) -> bool {
                self.name().is_some()
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "0x{:0width$x}", self.0, width = 2 * core::mem::size_of::<$repr>()),
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl core::str::FromStr for $name {
            type Err = $crate::object::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.trim();
                if let Some(v) = Self::from_name(s) {
                    return Ok(v);
                }
                $crate::object::parse_number::<$repr>(s)
                    .map(Self)
                    .ok_or($crate::object::ParseError { what: $what })
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                Self(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

pub(crate) use wire_code;
