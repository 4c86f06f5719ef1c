//! `inspect --format`: the part of Go's text/template that scripts use with `docker
//! inspect -f`: text, `{{.Field.Sub}}` (the value as Go prints it: a string as it is,
//! `map[k:v ...]` and `[a b]` for objects and arrays), `{{json .Field}}` (the value as
//! JSON) and `{{.}}` for the whole. Anything else in `{{ }}` (pipelines, functions,
//! `if`, `range`) is refused, naming it, as is a field the value does not have.

use serde_json::Value;

/// `template` with each action replaced by what it names in `v`.
pub fn render(template: &str, v: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("'{{{{' without '}}}}' in '{template}'"))?;
        out.push_str(&action(after[..end].trim(), v)?);
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        return Err(format!("'}}}}' without '{{{{' in '{template}'"));
    }
    out.push_str(rest);
    Ok(out)
}

/// One action: `.PATH` or `json .PATH`.
fn action(text: &str, v: &Value) -> Result<String, String> {
    let (json, path) = match text.strip_prefix("json ") {
        Some(p) => (true, p.trim()),
        None => (false, text),
    };
    let value = lookup(v, path).map_err(|why| format!("{{{{{text}}}}}: {why}"))?;
    Ok(if json { value.to_string() } else { go_text(value) })
}

/// The value at `.A.B.C` (`.`: `v` itself).
fn lookup<'a>(v: &'a Value, path: &str) -> Result<&'a Value, String> {
    if path == "." {
        return Ok(v);
    }
    let Some(fields) = path.strip_prefix('.') else {
        return Err("only .Field paths and json .Field are supported".into());
    };
    let mut at = v;
    let mut seen = String::new();
    for f in fields.split('.') {
        if f.is_empty() || !f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("only .Field paths and json .Field are supported".into());
        }
        at = at.get(f).ok_or_else(|| format!("no field {f} in {}", if seen.is_empty() { "." } else { &seen }))?;
        seen = format!("{seen}.{f}");
    }
    Ok(at)
}

/// A value as Go's fmt prints it in a template.
fn go_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        Value::Bool(_) | Value::Number(_) => v.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_text).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            // (Go prints a map's keys sorted.)
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let pairs: Vec<String> = keys.iter().map(|k| format!("{k}:{}", go_text(&map[*k]))).collect();
            format!("map[{}]", pairs.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_json_and_text() {
        let v = serde_json::json!({"Id": "abc", "State": {"Pid": 42, "Running": true, "FinishedAt": null},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"z": "1", "a": "2"}}});
        let r = |t: &str| render(t, &v);
        assert_eq!(r("{{.State.Pid}}").unwrap(), "42");
        assert_eq!(r("pid={{ .State.Pid }} id={{.Id}}").unwrap(), "pid=42 id=abc");
        assert_eq!(r("{{.State.Running}} {{.State.FinishedAt}}").unwrap(), "true <nil>");
        assert_eq!(r("{{.Config.Env}} {{.Config.Labels}}").unwrap(), "[A=1 B=2] map[a:2 z:1]");
        assert_eq!(r("{{json .Config.Env}}").unwrap(), r#"["A=1","B=2"]"#);
        assert_eq!(r("{{json .}}").unwrap(), v.to_string());
        assert_eq!(r("no actions").unwrap(), "no actions");
    }

    #[test]
    fn what_is_not_supported_is_refused() {
        let v = serde_json::json!({"State": {"Pid": 1}});
        for (t, why) in [
            ("{{.State.Nope}}", "no field Nope in .State"),
            ("{{.Nope.Pid}}", "no field Nope in ."),
            ("{{if .State}}x{{end}}", "only .Field paths"),
            ("{{.State.Pid | printf \"%d\"}}", "only .Field paths"),
            ("{{.State.Pid", "without"),
            ("x}}", "without"),
        ] {
            let e = render(t, &v).unwrap_err();
            assert!(e.contains(why), "{t}: {e}");
        }
    }
}
