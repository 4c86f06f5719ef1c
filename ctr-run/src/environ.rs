//! A container's environment as docker builds it: `KEY=VALUE` sets, a bare `KEY` from
//! the command line takes the caller's value (and sets nothing where the caller has
//! none), a later setting replaces an earlier one.

/// An environment as (key, value) pairs, in order.
pub type Env = Vec<(String, String)>;

/// Apply one `KEY=VALUE` (or, with `from_caller`, a bare `KEY`) to `env`.
pub fn set(env: &mut Env, kv: &str, from_caller: bool) {
    let (k, v) = match kv.split_once('=') {
        Some((k, v)) => (k.to_string(), v.to_string()),
        None if from_caller => match std::env::var(kv) {
            Ok(v) => (kv.to_string(), v),
            Err(_) => return,
        },
        None => return,
    };
    env.retain(|(ek, _)| *ek != k);
    env.push((k, v));
}
