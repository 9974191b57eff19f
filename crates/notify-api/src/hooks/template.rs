//! Hook templates: Jinja (minijinja) rendered with the payload as it came. Sandboxed: the
//! environment has no loader (no `include` or `import` can read a file) and no functions
//! beyond the built-in filters; bounded: rendering has a fuel budget (instructions) and the
//! output a byte limit, so a template cannot hold the request up or build a huge message.

use minijinja::Environment;

/// Instructions one rendering may execute.
const FUEL: u64 = 50_000;
/// Longest rendered text kept.
pub const OUTPUT_MAX_BYTES: usize = 8 * 1024;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(32);
    env
}

/// Checks that a template's syntax is correct (at start-up).
pub fn compile_check(source: &str) -> Result<(), String> {
    let env = environment();
    env.template_from_str(source)
        .map(|_| ())
        .map_err(|e| format!("template does not compile: {e}"))
}

/// Renders `source` with the payload's top-level keys as variables (and `alert`, the one
/// alert of a split notification). An error is the reason, for the message's
/// `template_error`.
pub fn render(source: &str, context: &serde_json::Value) -> Result<String, String> {
    let env = environment();
    let ctx = minijinja::Value::from_serialize(context);
    let out = env.render_str(source, ctx).map_err(|e| e.to_string())?;
    if out.len() > OUTPUT_MAX_BYTES {
        return Err(format!(
            "the template's output is {} bytes, over the {OUTPUT_MAX_BYTES} allowed",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_payload_and_refuses_runaway_or_unreadable_templates() {
        let ctx = serde_json::json!({"commonLabels": {"alertname": "DiskFull"}, "alerts": [1, 2]});
        assert_eq!(
            render("{{ commonLabels.alertname }} x{{ alerts|length }}", &ctx).unwrap(),
            "DiskFull x2"
        );
        let e = render("{% for i in range(100000) %}{{ i }}{% endfor %}", &ctx).unwrap_err();
        assert!(e.contains("fuel"), "{e}");
        // No loader: a template cannot read a file.
        assert!(render("{% include '/etc/passwd' %}", &ctx).is_err());
        assert!(render("{{ 'x' * 9000 }}", &ctx).is_err());
        assert!(compile_check("{{ oops").is_err());
    }
}
