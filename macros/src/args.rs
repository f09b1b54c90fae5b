//! Parsing of the attribute arguments: `#[gort::main(worker_threads = 4)]`.
//!
//! Every misuse becomes a [`syn::Error`] spanned on the offending token, so
//! the compiler underlines exactly the argument that is wrong.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, Meta, Token};

/// The names this attribute accepts, listed in error messages.
pub(crate) const ACCEPTED: &str = "`worker_threads` and `start_paused`";

/// The start of every error about a bad `worker_threads` value.
const EXPECTED: &str =
    "`worker_threads` must be a positive integer literal, e.g. `worker_threads = 4`";

/// Which attribute is being expanded; only used to word error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[gort::main]`
    Main,
    /// `#[gort::test]`
    Test,
}

impl Kind {
    /// The attribute as a user writes it, e.g. `#[gort::main]`.
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[gort::main]",
            Kind::Test => "#[gort::test]",
        }
    }

    /// The attribute's path inside the brackets, e.g. `gort::main`.
    fn path(self) -> &'static str {
        match self {
            Kind::Main => "gort::main",
            Kind::Test => "gort::test",
        }
    }
}

/// The validated arguments of `#[gort::main(..)]` / `#[gort::test(..)]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Config {
    /// `worker_threads = N`: the number of processors (Go's `GOMAXPROCS`).
    /// `None` keeps the builder's default.
    pub(crate) worker_threads: Option<WorkerThreads>,
    /// `start_paused = true`: the runtime's virtual clock starts paused
    /// (`Builder::start_paused`). `None` keeps the builder's default.
    pub(crate) start_paused: Option<StartPaused>,
}

/// A validated `start_paused = <bool>` value and where it was written.
#[derive(Clone, Debug)]
pub(crate) struct StartPaused {
    pub(crate) value: bool,
    pub(crate) span: Span,
}

impl PartialEq for StartPaused {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for StartPaused {}

/// A validated `worker_threads = N` value and where it was written.
#[derive(Clone, Debug)]
pub(crate) struct WorkerThreads {
    /// The number, always at least 1.
    pub(crate) value: usize,
    /// The span of the literal, so the generated call points back at it.
    pub(crate) span: Span,
}

impl PartialEq for WorkerThreads {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for WorkerThreads {}

/// Parses the attribute's argument tokens (what is inside the parentheses).
///
/// All problems are reported at once: the returned error combines one error
/// per bad argument.
pub(crate) fn parse(kind: Kind, args: TokenStream) -> syn::Result<Config> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated
        .parse2(args)
        .map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "{e}; expected arguments of the form `name = value`, \
                     e.g. `#[{}(worker_threads = 4)]`",
                    kind.path()
                ),
            )
        })?;

    let mut config = Config::default();
    let mut seen_worker_threads = false;
    let mut seen_start_paused = false;
    let mut errors: Option<syn::Error> = None;
    let mut push = |err: syn::Error| match &mut errors {
        Some(all) => all.combine(err),
        None => errors = Some(err),
    };

    for meta in &metas {
        let name = match meta.path().get_ident() {
            Some(ident) => ident.to_string(),
            None => String::new(),
        };
        match name.as_str() {
            "worker_threads" => {
                let value = match meta {
                    Meta::NameValue(nv) => parse_worker_threads(&nv.value),
                    Meta::Path(_) | Meta::List(_) => Err(syn::Error::new_spanned(
                        meta,
                        format!(
                            "`worker_threads` needs a value, e.g. `#[{}(worker_threads = 4)]`",
                            kind.path()
                        ),
                    )),
                };
                if seen_worker_threads {
                    push(syn::Error::new_spanned(
                        meta,
                        "duplicate argument `worker_threads`; give it once",
                    ));
                    continue;
                }
                seen_worker_threads = true;
                match value {
                    Ok(n) => config.worker_threads = Some(n),
                    Err(e) => push(e),
                }
            }
            "start_paused" => {
                let value = match meta {
                    Meta::NameValue(nv) => parse_start_paused(&nv.value),
                    Meta::Path(_) | Meta::List(_) => Err(syn::Error::new_spanned(
                        meta,
                        format!(
                            "`start_paused` needs a value, e.g. `#[{}(start_paused = true)]`",
                            kind.path()
                        ),
                    )),
                };
                if seen_start_paused {
                    push(syn::Error::new_spanned(
                        meta,
                        "duplicate argument `start_paused`; give it once",
                    ));
                    continue;
                }
                seen_start_paused = true;
                match value {
                    Ok(p) => config.start_paused = Some(p),
                    Err(e) => push(e),
                }
            }
            _ => {
                let shown = path_to_string(meta.path());
                push(syn::Error::new_spanned(
                    meta.path(),
                    format!(
                        "unknown argument `{shown}` to `{}`; the accepted arguments are {ACCEPTED}",
                        kind.attr()
                    ),
                ))
            }
        }
    }

    match errors {
        Some(err) => Err(err),
        None => Ok(config),
    }
}

/// Validates the value of `start_paused = <value>`: a `bool` literal.
fn parse_start_paused(value: &Expr) -> syn::Result<StartPaused> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(StartPaused {
            value: b.value,
            span: b.span,
        }),
        other => Err(syn::Error::new_spanned(
            other,
            "`start_paused` must be `true` or `false`, e.g. `start_paused = true`",
        )),
    }
}

/// Validates the value of `worker_threads = <value>`.
fn parse_worker_threads(value: &Expr) -> syn::Result<WorkerThreads> {
    // Peel invisible groups that `macro_rules!` wraps around `$e:expr`.
    let mut value = value;
    while let Expr::Group(group) = value {
        value = &group.expr;
    }

    let lit = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit,
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            return Err(syn::Error::new_spanned(
                value,
                format!("{EXPECTED}, not the string {:?}", s.value()),
            ))
        }
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => {
            return Err(syn::Error::new_spanned(
                value,
                format!("{EXPECTED}; it cannot be negative"),
            ))
        }
        _ => return Err(syn::Error::new_spanned(value, EXPECTED)),
    };

    if lit.base10_digits().starts_with('-') {
        // syn reads `-1` as one negative literal (spanned on the `-`).
        return Err(syn::Error::new_spanned(
            lit,
            format!("{EXPECTED}; it cannot be negative"),
        ));
    }
    if !matches!(lit.suffix(), "" | "usize") {
        return Err(syn::Error::new_spanned(
            lit,
            format!(
                "{EXPECTED}; the suffix `{}` is not allowed (write `{}` or `{}usize`)",
                lit.suffix(),
                lit.base10_digits(),
                lit.base10_digits()
            ),
        ));
    }
    let n: usize = lit.base10_parse().map_err(|_| {
        syn::Error::new_spanned(lit, "`worker_threads` is too large to fit in a `usize`")
    })?;
    if n == 0 {
        return Err(syn::Error::new_spanned(
            lit,
            "`worker_threads` must be at least 1 (a runtime needs a thread to run tasks)",
        ));
    }
    Ok(WorkerThreads {
        value: n,
        span: lit.span(),
    })
}

/// `a::b` as text, for error messages.
fn path_to_string(path: &syn::Path) -> String {
    let mut out = String::new();
    if path.leading_colon.is_some() {
        out.push_str("::");
    }
    for (i, seg) in path.segments.iter().enumerate() {
        if i > 0 {
            out.push_str("::");
        }
        out.push_str(&seg.ident.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn ok(tokens: TokenStream) -> Config {
        parse(Kind::Main, tokens).expect("arguments should be accepted")
    }

    fn err(tokens: TokenStream) -> String {
        parse(Kind::Main, tokens)
            .expect_err("arguments should be rejected")
            .to_string()
    }

    fn all_errors(tokens: TokenStream) -> Vec<String> {
        parse(Kind::Main, tokens)
            .expect_err("arguments should be rejected")
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn no_arguments_is_default() {
        assert_eq!(ok(quote!()), Config::default());
        assert_eq!(ok(TokenStream::new()).worker_threads, None);
    }

    #[test]
    fn worker_threads_accepted() {
        for (tokens, n) in [
            (quote!(worker_threads = 1), 1),
            (quote!(worker_threads = 4), 4),
            (quote!(worker_threads = 4,), 4),
            (quote!(worker_threads = 16usize), 16),
            (quote!(worker_threads = 0x10), 16),
            (quote!(worker_threads = 1_000), 1000),
        ] {
            let config = ok(tokens);
            assert_eq!(config.worker_threads.map(|w| w.value), Some(n));
        }
    }

    #[test]
    fn parse_str_input() {
        let tokens: TokenStream = syn::parse_str("worker_threads = 2").unwrap();
        assert_eq!(ok(tokens).worker_threads.unwrap().value, 2);
    }

    #[test]
    fn zero_rejected() {
        assert_eq!(
            err(quote!(worker_threads = 0)),
            "`worker_threads` must be at least 1 (a runtime needs a thread to run tasks)"
        );
    }

    #[test]
    fn string_rejected() {
        assert_eq!(
            err(quote!(worker_threads = "two")),
            "`worker_threads` must be a positive integer literal, e.g. `worker_threads = 4`, \
             not the string \"two\""
        );
    }

    #[test]
    fn negative_rejected() {
        let expected = "`worker_threads` must be a positive integer literal, \
                        e.g. `worker_threads = 4`; it cannot be negative";
        let tokens: TokenStream = syn::parse_str("worker_threads = -1").unwrap();
        assert_eq!(err(tokens), expected);
        assert_eq!(
            err(quote!(worker_threads = -1)),
            "`worker_threads` must be a positive integer literal, e.g. `worker_threads = 4`; \
             it cannot be negative"
        );
    }

    #[test]
    fn other_expressions_rejected() {
        for tokens in [
            quote!(worker_threads = N),
            quote!(worker_threads = 1 + 1),
            quote!(worker_threads = 2.0),
            quote!(worker_threads = true),
        ] {
            assert_eq!(
                err(tokens),
                "`worker_threads` must be a positive integer literal, e.g. `worker_threads = 4`"
            );
        }
    }

    #[test]
    fn suffix_rejected() {
        assert_eq!(
            err(quote!(worker_threads = 2u8)),
            "`worker_threads` must be a positive integer literal, e.g. `worker_threads = 4`; \
             the suffix `u8` is not allowed (write `2` or `2usize`)"
        );
    }

    #[test]
    fn too_large_rejected() {
        assert_eq!(
            err(quote!(worker_threads = 100000000000000000000000000000)),
            "`worker_threads` is too large to fit in a `usize`"
        );
    }

    #[test]
    fn missing_value_rejected() {
        let expected = "`worker_threads` needs a value, e.g. `#[gort::main(worker_threads = 4)]`";
        assert_eq!(err(quote!(worker_threads)), expected);
        assert_eq!(err(quote!(worker_threads(4))), expected);
    }

    #[test]
    fn unknown_argument_rejected() {
        assert_eq!(
            err(quote!(flavor = "multi_thread")),
            "unknown argument `flavor` to `#[gort::main]`; the accepted arguments are `worker_threads` and `start_paused`"
        );
        assert_eq!(
            err(quote!(threads = 2)),
            "unknown argument `threads` to `#[gort::main]`; the accepted arguments are `worker_threads` and `start_paused`"
        );
        assert_eq!(
            err(quote!(a::b)),
            "unknown argument `a::b` to `#[gort::main]`; the accepted arguments are `worker_threads` and `start_paused`"
        );
        let test_msg = parse(Kind::Test, quote!(flavor = "current_thread"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            test_msg,
            "unknown argument `flavor` to `#[gort::test]`; the accepted arguments are `worker_threads` and `start_paused`"
        );
        let paused = parse(Kind::Test, quote!(start_paused = true, worker_threads = 2)).unwrap();
        assert_eq!(paused.start_paused.map(|p| p.value), Some(true));
        assert_eq!(
            err(quote!(start_paused = 1)),
            "`start_paused` must be `true` or `false`, e.g. `start_paused = true`"
        );
        assert_eq!(
            err(quote!(start_paused = true, start_paused = false)),
            "duplicate argument `start_paused`; give it once"
        );
    }

    #[test]
    fn duplicate_rejected() {
        assert_eq!(
            err(quote!(worker_threads = 2, worker_threads = 3)),
            "duplicate argument `worker_threads`; give it once"
        );
    }

    #[test]
    fn every_error_is_reported() {
        let errors = all_errors(quote!(flavor = "x", worker_threads = 0, threads = 1));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("unknown argument `flavor`"));
        assert!(errors[1].starts_with("`worker_threads` must be at least 1"));
        assert!(errors[2].starts_with("unknown argument `threads`"));
    }

    #[test]
    fn malformed_syntax_rejected() {
        let msg = err(quote!(worker_threads = ));
        assert!(
            msg.ends_with(
                "expected arguments of the form `name = value`, \
                 e.g. `#[gort::main(worker_threads = 4)]`"
            ),
            "{msg}"
        );
        let msg = err(quote!(worker_threads = 2 worker_threads = 3));
        assert!(msg.contains("expected arguments of the form"), "{msg}");
    }
}
