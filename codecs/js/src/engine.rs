//! One QuickJS runtime per thread, the evaluated contexts it caches, and the limits of a call.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use lorafield_core::dynamic::{Note, Severity};
use lorafield_core::{DecodeError, ErrorKind, Limit, Sink, Uplink};
use rquickjs::context::{EvalOptions, intrinsic};
use rquickjs::object::Filter;
use rquickjs::{Atom, CatchResultExt, CaughtError, Context, Ctx, Function, Object, Runtime, Value};

use crate::entry::Entries;
use crate::helpers::{Helpers, SavedHelpers};
use crate::script::{LoadError, module_line};
use crate::text::text_of;
use crate::{Clock, Isolation, JsCodec, Limits};

/// lorafield's prelude (see `prelude.js`).
const PRELUDE: &str = include_str!("prelude.js");

/// The intrinsics a script context has: the language, with no host objects. `performance`
/// (a clock) and the DOM exception class are left out.
type Intrinsics = (
    intrinsic::Date,
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::Promise,
    intrinsic::WeakRef,
);

/// Why the interrupt handler stopped a call.
const TRIPPED_NONE: u8 = 0;
const TRIPPED_FUEL: u8 = 1;
const TRIPPED_TIME: u8 = 2;

/// What the interrupt handler reads: the fuel left and the deadline of the running call.
#[derive(Debug)]
struct Guard {
    anchor: Instant,
    checks: AtomicU64,
    fuel: AtomicU64,
    /// Nanoseconds after `anchor`; `u64::MAX` when no call runs.
    deadline: AtomicU64,
    tripped: AtomicU8,
}

impl Guard {
    fn arm(&self, limits: &Limits) {
        self.checks.store(0, Ordering::Relaxed);
        self.fuel.store(limits.fuel, Ordering::Relaxed);
        let deadline = self.anchor.elapsed() + limits.time;
        let nanos = u64::try_from(deadline.as_nanos()).unwrap_or(u64::MAX - 1);
        self.deadline.store(nanos, Ordering::Relaxed);
        self.tripped.store(TRIPPED_NONE, Ordering::Relaxed);
    }

    /// Ends the call; which limit stopped it, if one did.
    fn disarm(&self) -> Option<Limit> {
        self.deadline.store(u64::MAX, Ordering::Relaxed);
        match self.tripped.swap(TRIPPED_NONE, Ordering::Relaxed) {
            TRIPPED_FUEL => Some(Limit::Fuel),
            TRIPPED_TIME => Some(Limit::Time),
            _ => None,
        }
    }

    /// Called by the engine at each interrupt check: whether to stop.
    fn check(&self) -> bool {
        let deadline = self.deadline.load(Ordering::Relaxed);
        if deadline == u64::MAX {
            return false;
        }
        let checks = self.checks.fetch_add(1, Ordering::Relaxed) + 1;
        if checks > self.fuel.load(Ordering::Relaxed) {
            self.tripped.store(TRIPPED_FUEL, Ordering::Relaxed);
            return true;
        }
        let now = u64::try_from(self.anchor.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if now > deadline {
            self.tripped.store(TRIPPED_TIME, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// A script evaluated in a context of its own, ready to be called.
struct Loaded {
    // Persistent values are dropped before the context they live in.
    helpers: SavedHelpers,
    entries: Entries,
    /// The global object's names after the script was evaluated.
    names: GlobalNames,
    context: Context,
}

/// What the global object's own string names look like, found without making a JavaScript
/// array of them: their count, and the first and the last (names are kept in the order they
/// were made, integer-like ones first, so a call that made one changes one of the three).
///
/// A name made by assignment or declaration is enumerable; only `defineProperty` and its
/// kin make one that is not. So when the script never says `defineProperty`, the
/// enumerable names are all that is listed, which skips the built-ins and is several times
/// cheaper per call. (A script that reaches `defineProperty` by a computed name could keep
/// a non-enumerable name it made in a call: its own state only, never another script's.)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct GlobalNames {
    enumerable_only: bool,
    count: usize,
    first: Option<String>,
    last: Option<String>,
}

impl GlobalNames {
    /// The names to keep for `script`.
    fn for_script(ctx: &Ctx<'_>, script: &str) -> Result<GlobalNames, Failure> {
        GlobalNames::listed(ctx, !script.contains("defineProperty"))
    }

    fn listed(ctx: &Ctx<'_>, enumerable_only: bool) -> Result<GlobalNames, Failure> {
        let filter = if enumerable_only {
            Filter::new().string().enum_only()
        } else {
            Filter::new().string()
        };
        let mut keys = ctx.globals().own_keys::<Atom<'_>>(filter);
        let count = keys.len();
        let text = |a: Option<rquickjs::Result<Atom<'_>>>| -> Result<Option<String>, Failure> {
            a.transpose()
                .map_err(js)?
                .map(|a| a.to_string().map_err(js))
                .transpose()
        };
        let first = text(keys.next())?;
        let last = match text(keys.next_back())? {
            None => first.clone(),
            last => last,
        };
        Ok(GlobalNames {
            enumerable_only,
            count,
            first,
            last,
        })
    }

    /// Whether the global object's names in `ctx` differ from these.
    fn changed(&self, ctx: &Ctx<'_>) -> Result<bool, Failure> {
        Ok(GlobalNames::listed(ctx, self.enumerable_only)? != *self)
    }
}

/// A cached context and what it is for.
struct Cached {
    hash: [u8; 32],
    loaded: Loaded,
}

/// This thread's engine.
struct Engine {
    cache: Vec<Cached>,
    /// Where the host's stack was when the runtime was made: QuickJS counts every call's
    /// stack from there.
    stack_top: usize,
    guard: Arc<Guard>,
    /// Runtime memory after the last context was added or dropped.
    base_memory: usize,
    /// Jobs are left queued that no call may run (a script that kept queuing them): the
    /// runtime is dropped after this call, and a new one made for the next.
    poisoned: bool,
    runtime: Runtime,
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's engine, starting it on first use.
fn with_engine<R>(f: impl FnOnce(&mut Engine) -> Result<R, Failure>) -> Result<R, Failure> {
    ENGINE.with(|cell| {
        let mut slot = cell.try_borrow_mut().map_err(|_| Failure::Reentered)?;
        if slot.is_none() {
            *slot = Some(Engine::new()?);
        }
        let result = match slot.as_mut() {
            Some(engine) => f(engine),
            None => Err(Failure::Engine("no engine".into())),
        };
        if slot.as_ref().is_some_and(|e| e.poisoned) {
            *slot = None;
        }
        result
    })
}

/// Why a call produced no result.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A limit stopped it.
    Limit(Limit),
    /// The script threw.
    Threw {
        message: String,
        line: Option<u32>,
    },
    /// The script's result is not a result.
    Invalid(String),
    /// The script has no function for what was asked (a downlink of an uplink-only script).
    Missing(String),
    /// `null` was thrown: by the script, or by the engine when an allocation failed at the
    /// memory limit (it cannot make an error object then). [`resolve_null`] tells which.
    ThrewNull,
    /// The script cannot be loaded.
    Load(LoadError),
    /// The engine could not start, or was re-entered from a script.
    Engine(String),
    Reentered,
}

impl Engine {
    fn new() -> Result<Engine, Failure> {
        let stack_top = stack_position();
        let runtime = Runtime::new().map_err(|e| Failure::Engine(e.to_string()))?;
        let guard = Arc::new(Guard {
            anchor: Instant::now(),
            checks: AtomicU64::new(0),
            fuel: AtomicU64::new(0),
            deadline: AtomicU64::new(u64::MAX),
            tripped: AtomicU8::new(TRIPPED_NONE),
        });
        let handler = guard.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || handler.check())));
        Ok(Engine {
            cache: Vec::new(),
            stack_top,
            guard,
            base_memory: 0,
            poisoned: false,
            runtime,
        })
    }

    /// Sets the runtime's memory and stack limits for a call under `limits`, the stack counted
    /// from here.
    fn set_limits(&self, limits: &Limits) {
        self.runtime
            .set_memory_limit(self.base_memory.saturating_add(limits.memory));
        self.runtime.set_max_stack_size(stack_allowance(
            self.stack_top,
            stack_position(),
            limits.stack,
        ));
    }

    /// Measures the memory the cached contexts hold (after a collection).
    fn measure(&mut self) {
        self.runtime.run_gc();
        let usage = self.runtime.memory_usage();
        self.base_memory = usize::try_from(usage.malloc_size).unwrap_or(0);
    }

    /// Evaluates `codec`'s script in a new context.
    fn load(&mut self, codec: &JsCodec) -> Result<Loaded, Failure> {
        let script = codec.script();
        let limits = codec.options().limits;
        if script.text().len() > limits.script_size {
            return Err(Failure::Load(LoadError::TooLarge {
                script: script.name().into(),
                size: script.text().len(),
                limit: limits.script_size,
            }));
        }
        if let Some(line) = module_line(script.text()) {
            return Err(Failure::Load(LoadError::Module {
                script: script.name().into(),
                line,
            }));
        }
        // A new context may need more memory than a call's allowance leaves: lift the limit
        // while it is made, and count the evaluation's own work against the call limits.
        self.runtime.set_memory_limit(0);
        let context = Context::custom::<Intrinsics>(&self.runtime)
            .map_err(|e| Failure::Engine(e.to_string()))?;
        self.set_limits(&limits);
        self.guard.arm(&limits);
        let loaded = context.with(|ctx| -> Result<_, Failure> {
            let prelude: Function<'_> = eval(&ctx, "prelude.js", PRELUDE)
                .and_then(|v| function(&ctx, v, "prelude"))
                .map_err(|f| internal(f, "prelude"))?;
            let log = Function::new(ctx.clone(), |level: String, text: String| {
                tracing::debug!(target: "lorafield::js", level = %level, "{text}");
            })
            .map_err(|e| Failure::Engine(e.to_string()))?;
            let helpers: Object<'_> = prelude
                .call((ctx.globals(), log))
                .catch(&ctx)
                .map_err(|e| internal(caught(e, "prelude.js"), "prelude"))?;
            eval(&ctx, script.name(), script.text()).map_err(|f| match f {
                Failure::Threw { message, line } => Failure::Load(LoadError::Script {
                    script: script.name().into(),
                    message,
                    line,
                }),
                other => other,
            })?;
            let entries = Entries::find(&ctx).ok_or_else(|| {
                Failure::Load(LoadError::NoEntryPoint {
                    script: script.name().into(),
                })
            })?;
            let helpers = SavedHelpers::save(&ctx, &helpers)?;
            helpers
                .restore(&ctx)?
                .snapshot
                .call::<_, Value<'_>>(())
                .map_err(js)?;
            Ok((
                helpers,
                entries,
                GlobalNames::for_script(&ctx, script.text())?,
            ))
        });
        if let Some(limit) = self.guard.disarm() {
            return Err(Failure::Load(LoadError::Limit {
                script: script.name().into(),
                limit,
            }));
        }
        let (helpers, entries, names) = loaded.map_err(|f| match f {
            Failure::Limit(limit) => Failure::Load(LoadError::Limit {
                script: script.name().into(),
                limit,
            }),
            other => other,
        })?;
        Ok(Loaded {
            helpers,
            entries,
            names,
            context,
        })
    }

    /// The cached context of `codec`'s script, loading it when it is not cached.
    fn cached(&mut self, codec: &JsCodec) -> Result<usize, Failure> {
        let hash = codec.script().hash();
        if let Some(i) = self.cache.iter().position(|c| &c.hash == hash) {
            // Most recently used last.
            let last = self.cache.len() - 1;
            if i != last {
                let c = self.cache.remove(i);
                self.cache.push(c);
            }
            return Ok(self.cache.len() - 1);
        }
        let cap = codec.options().limits.contexts.max(1);
        while self.cache.len() >= cap {
            self.cache.remove(0);
        }
        let loaded = self.load(codec)?;
        self.cache.push(Cached {
            hash: *hash,
            loaded,
        });
        self.measure();
        Ok(self.cache.len() - 1)
    }

    /// Drops the cached context at `i` (it hit a limit: its state is not to be trusted).
    fn evict(&mut self, i: usize) {
        if i < self.cache.len() {
            self.cache.remove(i);
        }
        self.measure();
    }
}

/// Where this thread's stack is now: the address of a local (stacks grow down on every
/// platform lorafield runs on).
#[inline(never)]
fn stack_position() -> usize {
    let here = 0u8;
    std::hint::black_box(std::ptr::addr_of!(here)) as usize
}

/// The largest stack setting rquickjs passes on (larger ones mean no limit).
const MAX_STACK_SETTING: usize = 1 << 24;

/// The stack size to set so that a call starting at `here` may use `allowance` bytes.
///
/// QuickJS stops a call when the stack goes below `top - size`, `top` being where the stack
/// was when the runtime was made, not where the call starts: a call from deeper in the host's
/// stack (a deep caller, a caller with a large frame) found its allowance used up before it
/// began, and every call failed as a stack overflow; one from higher up got more than its
/// allowance. The size is moved by the difference. A call so much higher up that no size
/// expresses its allowance may use the stack down to `top` (which exists: the runtime was
/// made there); one so much deeper that the size would exceed what rquickjs passes on gets
/// less, and fails as out of stack rather than run without a limit.
fn stack_allowance(top: usize, here: usize, allowance: usize) -> usize {
    let size = if here <= top {
        allowance.saturating_add(top - here)
    } else {
        allowance.saturating_sub(here - top).max(1)
    };
    size.min(MAX_STACK_SETTING)
}

/// Evaluates `text` as a classic script named `name`.
fn eval<'js>(ctx: &Ctx<'js>, name: &str, text: &str) -> Result<Value<'js>, Failure> {
    let mut options = EvalOptions::default();
    options.strict = false;
    options.global = true;
    options.filename = Some(name.into());
    ctx.eval_with_options::<Value<'_>, _>(text, options)
        .catch(ctx)
        .map_err(|e| caught(e, name))
}

fn function<'js>(_ctx: &Ctx<'js>, v: Value<'js>, what: &str) -> Result<Function<'js>, Failure> {
    v.into_function()
        .ok_or_else(|| Failure::Engine(format!("{what} is not a function")))
}

/// An engine error that is not the script's doing.
pub(crate) fn js(e: rquickjs::Error) -> Failure {
    Failure::Engine(e.to_string())
}

fn internal(f: Failure, what: &str) -> Failure {
    match f {
        Failure::Threw { message, .. } => Failure::Engine(format!("{what}: {message}")),
        other => other,
    }
}

/// A caught exception as a failure: out of memory and stack overflow are limits.
pub(crate) fn caught(e: CaughtError<'_>, script: &str) -> Failure {
    match e {
        CaughtError::Exception(ex) => {
            let obj = ex.as_object();
            let member = |key: &str| -> Option<String> {
                let v: Value<'_> = obj.get(key).ok()?;
                text_of(obj.ctx(), &v)
            };
            let message = member("message").unwrap_or_default();
            let name = member("name").unwrap_or_else(|| "Error".into());
            if name == "InternalError" && message == "out of memory" {
                return Failure::Limit(Limit::Memory);
            }
            if name == "RangeError" && message == "Maximum call stack size exceeded" {
                return Failure::Limit(Limit::Stack);
            }
            if name == "InternalError" && message == "interrupted" {
                return Failure::Limit(Limit::Fuel);
            }
            let line = member("stack").and_then(|s| line_of(&s, script));
            Failure::Threw {
                message: if message.is_empty() {
                    name
                } else {
                    format!("{name}: {message}")
                },
                line,
            }
        }
        CaughtError::Value(v) if v.is_null() => Failure::ThrewNull,
        CaughtError::Value(v) => {
            let text = text_of(v.ctx(), &v)
                .or_else(|| v.as_number().map(|n| n.to_string()))
                .unwrap_or_else(|| format!("a thrown {}", v.type_name()));
            Failure::Threw {
                message: format!("uncaught {text}"),
                line: None,
            }
        }
        CaughtError::Error(rquickjs::Error::Allocation) => Failure::Limit(Limit::Memory),
        CaughtError::Error(e) => Failure::Engine(e.to_string()),
    }
}

/// The line of the first stack frame in `script` (`at f (name:12:5)`).
fn line_of(stack: &str, script: &str) -> Option<u32> {
    let frame = |line: &str| -> Option<u32> {
        let at = line.find(script)? + script.len();
        let rest = line.get(at..)?.strip_prefix(':')?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    stack.lines().find_map(frame)
}

/// Checks that `codec`'s script loads here, and caches its context.
pub(crate) fn check(codec: &JsCodec) -> Result<(), LoadError> {
    with_engine(|engine| {
        if codec.options().isolation == Isolation::Fresh {
            engine.load(codec).map(drop)
        } else {
            engine.cached(codec).map(drop)
        }
    })
    .map_err(|f| match f {
        Failure::Load(e) => e,
        Failure::Limit(limit) => LoadError::Limit {
            script: codec.script().name().into(),
            limit,
        },
        Failure::Threw { message, line } => LoadError::Script {
            script: codec.script().name().into(),
            message,
            line,
        },
        Failure::Invalid(e) | Failure::Missing(e) | Failure::Engine(e) => LoadError::Engine(e),
        Failure::ThrewNull => match resolve_null(codec.script().text()) {
            Failure::Limit(limit) => LoadError::Limit {
                script: codec.script().name().into(),
                limit,
            },
            _ => LoadError::Script {
                script: codec.script().name().into(),
                message: "uncaught null".into(),
                line: None,
            },
        },
        Failure::Reentered => LoadError::Engine("re-entered".into()),
    })
}

/// The entry points `codec`'s script has.
pub(crate) fn entries(codec: &JsCodec) -> Result<crate::entry::Found, Failure> {
    with_engine(|engine| {
        let i = engine.cached(codec)?;
        let c = engine.cache.get(i).ok_or(Failure::Reentered)?;
        Ok(c.loaded.entries.found())
    })
}

/// What a call does inside the script's context.
pub(crate) trait Call {
    /// The value the call returns to the host.
    type Output;
    /// Runs in the context: `helpers` are the prelude's, `entries` the script's.
    fn run<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        helpers: &Helpers<'js>,
        entries: &Entries,
    ) -> Result<Self::Output, Failure>;
}

/// Runs `call` for `codec` under its limits, in a cached or fresh context.
pub(crate) fn run<C: Call>(
    codec: &JsCodec,
    uplink: &Uplink<'_>,
    call: &mut C,
) -> Result<C::Output, Failure> {
    with_engine(|engine| {
        let options = codec.options();
        let fresh;
        let (loaded, index) = match options.isolation {
            Isolation::Cached => {
                let i = engine.cached(codec)?;
                (
                    &engine.cache.get(i).ok_or(Failure::Reentered)?.loaded,
                    Some(i),
                )
            }
            Isolation::Fresh => {
                fresh = engine.load(codec)?;
                (&fresh, None)
            }
        };
        engine.set_limits(&options.limits);
        engine.guard.arm(&options.limits);
        let runtime = &engine.runtime;
        let result = loaded.context.with(|ctx| {
            let helpers = loaded.helpers.restore(&ctx)?;
            prepare(&ctx, &helpers, codec, uplink)?;
            let out = call.run(&ctx, &helpers, &loaded.entries);
            let changed = loaded.names.changed(&ctx)?;
            helpers
                .cleanup
                .call::<_, Value<'_>>((changed,))
                .map_err(js)?;
            out
        });
        let mut jobs_limit = None;
        if runtime.is_job_pending() {
            // Jobs run outside `with`, which holds the runtime; then the globals are undone
            // again.
            jobs_limit = drain_jobs(runtime);
            loaded.context.with(|ctx| -> Result<(), Failure> {
                let helpers = loaded.helpers.restore(&ctx)?;
                let changed = loaded.names.changed(&ctx)?;
                helpers
                    .cleanup
                    .call::<_, Value<'_>>((changed,))
                    .map_err(js)?;
                Ok(())
            })?;
        }
        let tripped = engine.guard.disarm().or(jobs_limit);
        if jobs_limit.is_some() {
            engine.poisoned = true;
        }
        let result = match (tripped, result) {
            (Some(limit), _) => Err(Failure::Limit(limit)),
            (None, Err(Failure::ThrewNull)) => Err(resolve_null(codec.script().text())),
            (None, result) => result,
        };
        if let (Err(Failure::Limit(_)), Some(i)) = (&result, index) {
            engine.evict(i);
        }
        result
    })
}

/// What a thrown `null` means: the script's own `throw null` (or `throw undefined`) when its
/// text has one, else an allocation that failed at the memory limit.
fn resolve_null(text: &str) -> Failure {
    let throws_null = text.match_indices("throw").any(|(i, _)| {
        let rest = text.get(i + 5..).unwrap_or_default();
        let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        rest.starts_with("null") || rest.starts_with("undefined")
    });
    if throws_null {
        Failure::Threw {
            message: "uncaught null".into(),
            line: None,
        }
    } else {
        Failure::Limit(Limit::Memory)
    }
}

/// Runs the promise jobs a call queued (a `then` callback), under the call's limits: they are
/// part of its work, and left queued they would keep what they hold alive into the next
/// call. Their outcome cannot change the result, which is converted already.
///
/// A script that keeps queuing jobs stops after [`MAX_JOBS`], as if out of fuel (each job
/// is too small for the engine's interrupt checks to count it). Returns the limit it hit.
fn drain_jobs(runtime: &Runtime) -> Option<Limit> {
    let mut jobs = 0;
    while runtime.is_job_pending() {
        jobs += 1;
        if jobs > MAX_JOBS {
            return Some(Limit::Fuel);
        }
        if runtime.execute_pending_job().is_err() && !runtime.is_job_pending() {
            break;
        }
    }
    None
}

/// The most promise jobs one call may queue and run.
const MAX_JOBS: usize = 10_000;

/// Sets the clock and the random seed for a call.
fn prepare<'js>(
    ctx: &Ctx<'js>,
    helpers: &Helpers<'js>,
    codec: &JsCodec,
    uplink: &Uplink<'_>,
) -> Result<(), Failure> {
    let (set_now, seed) = (&helpers.set_now, &helpers.seed);
    match codec.options().clock {
        Clock::Real => {
            set_now
                .call::<_, Value<'_>>((Value::new_null(ctx.clone()),))
                .map_err(js)?;
            seed.call::<_, Value<'_>>((0, 0, 0, 0)).map_err(js)?;
        }
        Clock::RecvTime => {
            let ms = uplink.received_ms.unwrap_or(0) as f64;
            set_now.call::<_, Value<'_>>((ms,)).map_err(js)?;
            let words = seed_words(uplink.seed, uplink.received_ms.unwrap_or(0));
            seed.call::<_, Value<'_>>((words[0], words[1], words[2], words[3]))
                .map_err(js)?;
        }
    }
    Ok(())
}

/// Four non-zero 32-bit words for the generator, from the record's seed and receive time
/// (splitmix64).
fn seed_words(seed: u64, received_ms: i64) -> [i32; 4] {
    let mut x = seed ^ (received_ms as u64).rotate_left(32) ^ 0x6c6f_7261_6669_656c;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (next(), next());
    let w = [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32];
    // All zero would mean "unseeded".
    let w = if w == [0; 4] { [1, 0, 0, 0] } else { w };
    w.map(|v| v as i32)
}

/// Decodes `uplink` with `codec` into `sink`.
pub(crate) fn decode<'a>(
    codec: &JsCodec,
    uplink: Uplink<'a>,
    sink: &mut dyn Sink<'a>,
) -> Result<(), DecodeError> {
    let mut call = crate::entry::DecodeCall::new(codec, &uplink, sink);
    let result = run(codec, &uplink, &mut call);
    call.finish(result)
}

/// Reports a failure into `sink` as a note and returns the frame's error.
pub(crate) fn report(sink: &mut dyn Sink<'_>, failure: Failure) -> DecodeError {
    let (kind, message, line) = match failure {
        Failure::Limit(limit) => (ErrorKind::ScriptLimit(limit), limit_message(limit), None),
        Failure::Threw { message, line } => (ErrorKind::ScriptError, message, line),
        Failure::Invalid(message) => (ErrorKind::InvalidResult, message, None),
        Failure::Missing(message) => (ErrorKind::Unsupported, message, None),
        Failure::ThrewNull => (ErrorKind::ScriptError, "uncaught null".into(), None),
        Failure::Load(e) => (ErrorKind::ScriptError, e.to_string(), None),
        Failure::Engine(e) => (ErrorKind::ScriptError, format!("engine: {e}"), None),
        Failure::Reentered => (
            ErrorKind::ScriptError,
            "a script codec was called from inside a script".into(),
            None,
        ),
    };
    let _ = sink.note(Note {
        severity: Severity::Error,
        kind,
        message: &message,
        line,
    });
    DecodeError::new(0, kind)
}

fn limit_message(limit: Limit) -> String {
    match limit {
        Limit::Fuel => "the script ran out of fuel (an endless loop?)".into(),
        Limit::Time => "the script ran past its time limit".into(),
        Limit::Memory => "the script ran out of memory".into(),
        Limit::Stack => "the script overflowed its stack (endless recursion?)".into(),
        Limit::ScriptSize => "the script is larger than its size limit".into(),
        Limit::OutputSize => "the result is larger than its size limit".into(),
        _ => format!("the script exceeded its {} limit", limit.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_from_the_script_s_frames() {
        let stack = "    at f (other.js:3:1)\n    at decodeUplink (codec.js:12:9)\n";
        assert_eq!(line_of(stack, "codec.js"), Some(12));
        assert_eq!(line_of(stack, "none.js"), None);
    }

    #[test]
    fn the_stack_allowance_counts_from_the_call() {
        let k = 1024;
        // Where the runtime was made: as set.
        assert_eq!(stack_allowance(1000 * k, 1000 * k, 256 * k), 256 * k);
        // 300 KiB deeper: the size grows by as much.
        assert_eq!(stack_allowance(1000 * k, 700 * k, 256 * k), 556 * k);
        // 100 KiB higher up: it shrinks; far higher up it stays above zero (no limit).
        assert_eq!(stack_allowance(1000 * k, 1100 * k, 256 * k), 156 * k);
        assert_eq!(stack_allowance(1000 * k, 2000 * k, 256 * k), 1);
        // Never beyond what rquickjs passes on.
        assert_eq!(stack_allowance(usize::MAX, 0, 256 * k), MAX_STACK_SETTING);
    }

    #[test]
    fn seeds_differ_and_are_never_zero() {
        assert_ne!(seed_words(1, 0), seed_words(2, 0));
        assert_ne!(seed_words(1, 0), seed_words(1, 1));
        assert_eq!(seed_words(7, 9), seed_words(7, 9));
    }
}
