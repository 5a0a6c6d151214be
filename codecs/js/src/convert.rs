//! A script's result, converted from JavaScript values directly (not through JSON text) into
//! run-time members: keys sorted bytewise, numbers as they are, `undefined` and functions left
//! out (`null` in arrays, as `JSON.stringify` does), typed arrays as arrays, dates as ISO 8601
//! text, boxed primitives (`new Number(5)`) as their values, BigInts as numbers when exact and
//! as text (with a warning) when not.

use lorafield_core::dynamic::DynValue;
use lorafield_core::json::{write_dyn_value, write_str};
use lorafield_core::{Container, ErrorKind, Limit, MAX_DEPTH, Sink};
use rquickjs::{Array, CaughtError, Ctx, Function, Object, Type, Value};

use crate::engine::{Failure, caught, js};
use crate::helpers::Helpers;
use crate::text::text_of;

/// Where converted values go: a sink, or JSON text.
pub(crate) trait Out {
    /// A leaf member (its key is ignored inside an array).
    fn member(&mut self, key: &str, value: DynValue<'_>) -> Result<(), ErrorKind>;
    /// Opens a container under `key`.
    fn open(&mut self, key: &str, container: Container) -> Result<(), ErrorKind>;
    /// Closes the innermost container.
    fn close(&mut self) -> Result<(), ErrorKind>;
}

/// A sink as an [`Out`].
pub(crate) struct SinkOut<'s, 'a>(pub(crate) &'s mut dyn Sink<'a>);

impl Out for SinkOut<'_, '_> {
    fn member(&mut self, key: &str, value: DynValue<'_>) -> Result<(), ErrorKind> {
        self.0.dyn_field(key, value)
    }
    fn open(&mut self, key: &str, container: Container) -> Result<(), ErrorKind> {
        self.0.dyn_open(key, container)
    }
    fn close(&mut self) -> Result<(), ErrorKind> {
        self.0.close()
    }
}

/// Compact JSON text, members in the order they come (the converter sorts them).
#[derive(Debug, Default)]
pub(crate) struct TextOut {
    pub(crate) text: Vec<u8>,
    /// Per open container: whether it is an object, and whether a member was written.
    stack: Vec<(bool, bool)>,
}

impl TextOut {
    fn separate(&mut self, key: &str) {
        if let Some((object, written)) = self.stack.last_mut() {
            if *written {
                self.text.push(b',');
            }
            *written = true;
            if *object {
                write_str(key, &mut self.text);
                self.text.push(b':');
            }
        }
    }
}

impl Out for TextOut {
    fn member(&mut self, key: &str, value: DynValue<'_>) -> Result<(), ErrorKind> {
        self.separate(key);
        write_dyn_value(&value, &mut self.text);
        Ok(())
    }
    fn open(&mut self, key: &str, container: Container) -> Result<(), ErrorKind> {
        self.separate(key);
        let object = container == Container::Object;
        self.text.push(if object { b'{' } else { b'[' });
        self.stack.push((object, false));
        Ok(())
    }
    fn close(&mut self) -> Result<(), ErrorKind> {
        let (object, _) = self.stack.pop().ok_or(ErrorKind::Nesting)?;
        self.text.push(if object { b'}' } else { b']' });
        Ok(())
    }
}

/// The deepest nesting converted (sinks allow [`MAX_DEPTH`] below the top-level object).
const MAX_NESTING: usize = MAX_DEPTH + 1;

/// What a value is, beyond its JavaScript type (the prelude's `kind`; 0 is a plain object).
const DATE: i32 = 1;
const TYPED_ARRAY: i32 = 2;
const BOXED: i32 = 3;

/// Converts values into an [`Out`], counting the text they make against the output limit.
pub(crate) struct Converter<'js> {
    ctx: Ctx<'js>,
    kind: Function<'js>,
    iso: Function<'js>,
    unbox: Function<'js>,
    to_array: Function<'js>,
    to_text: Function<'js>,
    /// `Object.prototype` as the prelude found it.
    object_prototype: Object<'js>,
    /// Bytes of output left.
    budget: usize,
    /// The objects being converted, outermost first (a cycle returns to one of them).
    ancestors: Vec<Value<'js>>,
    /// The path of the member being converted, for messages.
    path: Vec<String>,
    /// Warnings met (BigInts written as text), each with its path.
    pub(crate) warnings: Vec<String>,
    /// The script's name (to find the lines of its exceptions).
    script: String,
}

impl<'js> Converter<'js> {
    pub(crate) fn new(
        ctx: &Ctx<'js>,
        helpers: &Helpers<'js>,
        output_size: usize,
        script: &str,
    ) -> Result<Self, Failure> {
        Ok(Converter {
            ctx: ctx.clone(),
            kind: helpers.kind.clone(),
            iso: helpers.iso.clone(),
            unbox: helpers.unbox.clone(),
            to_array: helpers.to_array.clone(),
            to_text: helpers.to_text.clone(),
            object_prototype: helpers.object_prototype.clone(),
            budget: output_size,
            ancestors: Vec::new(),
            path: Vec::new(),
            warnings: Vec::new(),
            script: script.into(),
        })
    }

    fn spend(&mut self, n: usize) -> Result<(), Failure> {
        self.budget = self
            .budget
            .checked_sub(n)
            .ok_or(Failure::Limit(Limit::OutputSize))?;
        Ok(())
    }

    fn invalid(&self, what: &str) -> Failure {
        let path = if self.path.is_empty() {
            "the result".to_string()
        } else {
            self.path.join(".")
        };
        Failure::Invalid(format!("{path} {what}"))
    }

    fn sink(&self, e: ErrorKind) -> Failure {
        match e {
            ErrorKind::Nesting => {
                self.invalid(&format!("is nested deeper than {MAX_DEPTH} levels"))
            }
            ErrorKind::SinkFull => Failure::Limit(Limit::OutputSize),
            other => Failure::Invalid(format!("the sink refused the result: {other}")),
        }
    }

    /// Converts the members of object `obj` into `out` (the object itself is already open, or
    /// is the top level).
    pub(crate) fn members(&mut self, obj: &Object<'js>, out: &mut dyn Out) -> Result<(), Failure> {
        let mut members: Vec<(String, Value<'js>)> = Vec::new();
        for member in obj.props::<Value<'js>, Value<'js>>() {
            let (key, value) = member.map_err(|e| self.thrown(e))?;
            members.push((self.text(&key)?, value));
        }
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        // Keys that differ only in their lone surrogates read the same (each is U+FFFD): the
        // last counts, as of a repeated key.
        members.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        for (key, value) in members {
            self.path.push(key);
            let key = self.path.last().cloned().unwrap_or_default();
            self.value(&key, value, out, false)?;
            self.path.pop();
        }
        Ok(())
    }

    /// Script code that threw while the result was read (a getter, a proxy's trap): the
    /// script's exception, or the limit it hit.
    fn thrown(&self, e: rquickjs::Error) -> Failure {
        match caught(CaughtError::from_error(&self.ctx, e), &self.script) {
            Failure::Threw { message, line } => Failure::Threw {
                message: format!("reading the result: {message}"),
                line,
            },
            Failure::ThrewNull => Failure::Threw {
                message: "reading the result: uncaught null".into(),
                line: None,
            },
            other => other,
        }
    }

    /// Converts one value under `key`; `in_array` makes absent values `null`.
    pub(crate) fn value(
        &mut self,
        key: &str,
        value: Value<'js>,
        out: &mut dyn Out,
        in_array: bool,
    ) -> Result<(), Failure> {
        self.spend(key.len() + 4)?;
        let leaf = |me: &mut Self, out: &mut dyn Out, v: DynValue<'_>| {
            out.member(key, v).map_err(|e| me.sink(e))
        };
        match value.type_of() {
            Type::Uninitialized
            | Type::Undefined
            | Type::Function
            | Type::Constructor
            | Type::Symbol
            | Type::Module
            | Type::Unknown => {
                if in_array {
                    leaf(self, out, DynValue::Null)?;
                }
                Ok(())
            }
            Type::Null => leaf(self, out, DynValue::Null),
            Type::Bool => leaf(self, out, DynValue::Bool(value.as_bool().unwrap_or(false))),
            Type::Int => leaf(
                self,
                out,
                DynValue::Number(value.as_int().map(f64::from).unwrap_or(0.0)),
            ),
            Type::Float => {
                let n = value.as_float().unwrap_or(f64::NAN);
                if !n.is_finite() {
                    return Err(self.invalid(if n.is_nan() { "is NaN" } else { "is Infinity" }));
                }
                self.spend(24)?;
                leaf(self, out, DynValue::Number(n))
            }
            Type::String => {
                let s = self.text(&value)?;
                self.spend(s.len())?;
                leaf(self, out, DynValue::Text(&s))
            }
            Type::BigInt => self.bigint(key, value, out),
            Type::Array => {
                let array = value
                    .as_array()
                    .cloned()
                    .ok_or_else(|| Failure::Engine("not an array".into()))?;
                self.array(key, array, out)
            }
            Type::Object | Type::Exception | Type::Proxy | Type::Promise => {
                let obj = value
                    .as_object()
                    .cloned()
                    .ok_or_else(|| Failure::Engine("not an object".into()))?;
                // A plain object (the most common by far) is known by its prototype without
                // asking the engine. Else script code may run while its kind is found (a
                // proxy's traps): its exceptions are the script's.
                let plain = value.type_of() == Type::Object
                    && obj
                        .get_prototype()
                        .is_some_and(|p| p.as_value() == self.object_prototype.as_value());
                let kind: i32 = if plain {
                    0
                } else {
                    self.kind.call((obj.clone(),)).map_err(|e| self.thrown(e))?
                };
                match kind {
                    DATE => {
                        let iso: Option<String> =
                            self.iso.call((obj,)).map_err(|e| self.thrown(e))?;
                        match iso {
                            Some(s) => {
                                self.spend(s.len())?;
                                leaf(self, out, DynValue::Text(&s))
                            }
                            None => leaf(self, out, DynValue::Null),
                        }
                    }
                    TYPED_ARRAY => {
                        let array: Array<'js> =
                            self.to_array.call((obj,)).map_err(|e| self.thrown(e))?;
                        self.array(key, array, out)
                    }
                    BOXED => {
                        let inner: Value<'js> =
                            self.unbox.call((obj,)).map_err(|e| self.thrown(e))?;
                        if inner.is_object() {
                            return Err(Failure::Engine("a boxed value is an object".into()));
                        }
                        self.value(key, inner, out, in_array)
                    }
                    _ => self.object(key, obj, out),
                }
            }
        }
    }

    /// A string's text; one that is not well formed (a lone surrogate) has each lone
    /// surrogate replaced by U+FFFD, as `String.prototype.toWellFormed` does.
    fn text(&self, value: &Value<'js>) -> Result<String, Failure> {
        Ok(text_of(&self.ctx, value).unwrap_or_default())
    }

    fn enter(&mut self, v: Value<'js>) -> Result<(), Failure> {
        if self.ancestors.contains(&v) {
            return Err(self.invalid("refers back to an object that contains it (a cycle)"));
        }
        if self.ancestors.len() >= MAX_NESTING {
            return Err(self.invalid(&format!("is nested deeper than {MAX_NESTING} levels")));
        }
        self.ancestors.push(v);
        Ok(())
    }

    fn object(&mut self, key: &str, obj: Object<'js>, out: &mut dyn Out) -> Result<(), Failure> {
        self.enter(obj.clone().into_value())?;
        out.open(key, Container::Object).map_err(|e| self.sink(e))?;
        self.members(&obj, out)?;
        out.close().map_err(|e| self.sink(e))?;
        self.ancestors.pop();
        Ok(())
    }

    fn array(&mut self, key: &str, array: Array<'js>, out: &mut dyn Out) -> Result<(), Failure> {
        self.enter(array.clone().into_value())?;
        out.open(key, Container::Array).map_err(|e| self.sink(e))?;
        for i in 0..array.len() {
            let v: Value<'js> = array.get(i).map_err(|e| self.thrown(e))?;
            self.path.push(i.to_string());
            self.value("", v, out, true)?;
            self.path.pop();
        }
        out.close().map_err(|e| self.sink(e))?;
        self.ancestors.pop();
        Ok(())
    }

    /// A BigInt: a number when a double holds it exactly, else its digits as text.
    fn bigint(&mut self, key: &str, value: Value<'js>, out: &mut dyn Out) -> Result<(), Failure> {
        let digits: String = self.to_text.call((value,)).map_err(js)?;
        self.spend(digits.len())?;
        let as_double: Option<f64> = digits.parse().ok();
        let exact = as_double.is_some_and(|d| d.is_finite() && format!("{d:.0}") == digits);
        match (exact, as_double) {
            (true, Some(d)) => out
                .member(key, DynValue::Number(d))
                .map_err(|e| self.sink(e)),
            _ => {
                let path = self.path.join(".");
                self.warnings.push(format!(
                    "{path} is a BigInt no double holds exactly: written as text"
                ));
                out.member(key, DynValue::Text(&digits))
                    .map_err(|e| self.sink(e))
            }
        }
    }
}
