//! Checking the annotated function and generating the expansion.
//!
//! ```text
//! #[gort::main(worker_threads = 2)]
//! async fn main() -> R { body }
//! ```
//!
//! becomes
//!
//! ```text
//! fn main() -> R {
//!     ::gort::runtime::Builder::new()
//!         .worker_threads(2usize)
//!         // `#[gort::test]`: .on_deadlock(::gort::runtime::OnDeadlock::Panic)
//!         .build()
//!         // `#[gort::test]`: .expect("gort: failed to build the runtime")
//!         .unwrap_or_else(|e| {
//!             ::std::eprintln!("gort: cannot start the runtime: {}", e);
//!             ::std::process::exit(2)
//!         })
//!         // `#[gort::test]`: .block_on(async move {
//!         .__run_main(async move {
//!             let __gort_output: R = { body };
//!             #[allow(unreachable_code)]
//!             let __gort_result = __gort_output;
//!             __gort_result
//!         })
//! }
//! ```
//!
//! The builder is a temporary of the single tail expression: it lives until
//! `main` returns, and no `let` of the expansion can collide with a user's
//! `const` of the same name. For `-> impl Trait` and `-> !` (which cannot be
//! written as a `let` type) the block is just `async move { body }`.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::{ItemFn, ReturnType, Type};

use crate::args::{self, Config, Kind};

/// Expands `#[gort::main(args)] item` or `#[gort::test(args)] item`.
///
/// Never panics: every problem becomes a `compile_error!` spanned on the
/// offending tokens. When the function itself is usable the full expansion
/// is still emitted next to the errors, so errors in the body keep being
/// reported; otherwise a stub keeps the crate free of follow-up errors
/// (such as "`main` function not found").
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let config = args::parse(kind, args);

    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(err) => {
            let mut error = syn::Error::new(
                err.span(),
                format!("`{}` can only be applied to an `async fn`", kind.attr()),
            );
            if let Err(arg_err) = config {
                error.combine(arg_err);
            }
            let error = error.to_compile_error();
            return quote!(#error #item);
        }
    };

    let sig_errors = check_signature(kind, &func);
    let mut errors: Option<syn::Error> = None;
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            errors = Some(err);
            Config::default()
        }
    };
    if let Some(sig_err) = sig_errors.clone() {
        match &mut errors {
            Some(all) => all.combine(sig_err),
            None => errors = Some(sig_err),
        }
    }
    let errors = errors.map(|e| e.to_compile_error());

    let output = if sig_errors.is_some() {
        stub(kind, &func)
    } else {
        generate(kind, &config, func)
    };
    quote!(#errors #output)
}

/// Rejects what an entry point cannot be: sync, generic, with parameters.
fn check_signature(kind: Kind, func: &ItemFn) -> Option<syn::Error> {
    let sig = &func.sig;
    let attr = kind.attr();
    let mut errors: Vec<syn::Error> = Vec::new();

    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            &sig.fn_token,
            format!(
                "the `async` keyword is missing from the function declaration: \
                 `{attr}` needs `async fn {}`",
                sig.ident
            ),
        ));
    }
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            constness,
            format!("`{attr}` functions cannot be `const`"),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("`{attr}` functions cannot be generic; remove the generic parameters"),
        ));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            format!("`{attr}` functions cannot have a `where` clause"),
        ));
    }
    if !sig.inputs.is_empty() {
        let why = match kind {
            Kind::Main => "the program's entry point is called with none",
            Kind::Test => "the test harness calls tests with none",
        };
        errors.push(syn::Error::new_spanned(
            &sig.inputs,
            format!("`{attr}` functions cannot take arguments ({why})"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            format!("`{attr}` functions cannot take arguments"),
        ));
    }
    if kind == Kind::Test {
        for attribute in &func.attrs {
            if is_test_attr(attribute) {
                errors.push(syn::Error::new_spanned(
                    attribute,
                    "a second test attribute is supplied: `#[gort::test]` already makes \
                     the function a test; remove this one",
                ));
            }
        }
    }

    let mut errors = errors.into_iter();
    let mut first = errors.next()?;
    for err in errors {
        first.combine(err);
    }
    Some(first)
}

/// `#[test]`, `#[core::prelude::v1::test]`, `#[tokio::test]`, ...
fn is_test_attr(attribute: &syn::Attribute) -> bool {
    attribute
        .path()
        .segments
        .last()
        .is_some_and(|seg| seg.ident == "test")
}

/// The attribute that makes a function a test, as `#[test]` expands to.
fn test_attr() -> TokenStream {
    quote!(#[::core::prelude::v1::test])
}

/// The function that replaces a misused one: same name, attributes and
/// visibility, no parameters and an empty body, so that only the macro's own
/// error is reported.
fn stub(kind: Kind, func: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs, vis, sig, ..
    } = func;
    let ident = &sig.ident;
    let test_attr = (kind == Kind::Test).then(test_attr);
    // The return type may mention rejected generic parameters; keep it only
    // when it is certainly valid on its own.
    let output = match &sig.output {
        ReturnType::Type(_, ty)
            if sig.generics.params.is_empty() && !mentions_impl(ty.to_token_stream()) =>
        {
            Some(&sig.output)
        }
        _ => None,
    };
    let body = match output {
        Some(_) => quote!(::core::unimplemented!()),
        None => TokenStream::new(),
    };
    // A second test attribute was reported already; do not let it make a
    // second test.
    let attrs = attrs.iter().filter(|a| !is_test_attr(a));
    quote! {
        #test_attr
        #(#attrs)*
        #vis fn #ident() #output { #body }
    }
}

/// The real expansion for a well-formed `async fn`.
///
/// Inside the async block the user's body is bound to a variable typed with
/// the declared return type, so the compiler checks the body against it
/// where the body is: a wrong tail expression or `return` value is reported
/// on the user's code, with a note pointing at the return type. The names
/// start with `__gort_`: a `let` pattern would resolve to a `const` of the
/// same name in the user's scope (hygiene does not cover that), and the
/// underscore keeps "unused variable" quiet when the body diverges.
fn generate(kind: Kind, config: &Config, func: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    sig.asyncness = None;

    let body_span = block.brace_token.span.join();
    let output_ty = match &sig.output {
        ReturnType::Default => Some(quote_spanned!(body_span=> ())),
        // `let x: !` and `let x: impl Trait` cannot be written; inference
        // through `block_on` covers those.
        ReturnType::Type(_, ty)
            if matches!(**ty, Type::Never(_)) || mentions_impl(ty.to_token_stream()) =>
        {
            None
        }
        ReturnType::Type(_, ty) => Some(ty.to_token_stream()),
    };

    let future = match output_ty {
        Some(output_ty) => {
            let output = Ident::new("__gort_output", Span::mixed_site());
            let result = Ident::new("__gort_result", Span::mixed_site());
            quote_spanned! {body_span=>
                async move {
                    // A body that only panics (a `#[should_panic]` test)
                    // must not trip clippy on this generated binding.
                    #[allow(clippy::diverging_sub_expression)]
                    let #output: #output_ty = #block;
                    // Reached only if the body returns normally; a body that
                    // ends in `loop {}` must not warn about this line.
                    #[allow(unreachable_code)]
                    let #result = #output;
                    #result
                }
            }
        }
        None => quote_spanned!(body_span=> async move #block),
    };

    let worker_threads = config.worker_threads.as_ref().map(|w| {
        let mut n = proc_macro2::Literal::usize_suffixed(w.value);
        n.set_span(w.span);
        quote_spanned!(w.span=> .worker_threads(#n))
    });
    let start_paused = config.start_paused.as_ref().map(|p| {
        let b = syn::LitBool::new(p.value, p.span);
        quote_spanned!(p.span=> .start_paused(#b))
    });

    let test_attr = (kind == Kind::Test).then(test_attr);
    // A test that cannot build its runtime fails like any test. A program
    // cannot go on without one either, but a panic would add a backtrace
    // into gort to what is a configuration mistake (a bad `GORT_MAXPROCS`):
    // one line on stderr and exit status 2, as the global runtime does.
    // A program ends when `main` returns, not when its slowest blocking
    // call does (`Runtime::__run_main`); a test waits for its runtime's
    // whole shutdown.
    let run = match kind {
        Kind::Test => quote!(block_on),
        Kind::Main => quote!(__run_main),
    };
    // A test that deadlocks fails at once with Go's message and the dump
    // instead of hanging until CI kills it; a program only warns (a plain
    // thread the runtime cannot see may still wake it).
    let on_deadlock = match kind {
        Kind::Test => quote!(.on_deadlock(::gort::runtime::OnDeadlock::Panic)),
        Kind::Main => quote!(),
    };
    let built = match kind {
        Kind::Test => quote!(.expect("gort: failed to build the runtime")),
        Kind::Main => quote!(.unwrap_or_else(|e| {
            ::std::eprintln!("gort: cannot start the runtime: {}", e);
            ::std::process::exit(2)
        })),
    };

    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            ::gort::runtime::Builder::new()
                #worker_threads
                #start_paused
                #on_deadlock
                .build()
                #built
                .#run(#future)
        }
    }
}

/// Whether a type contains `impl Trait`, which cannot be named in a bound.
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(kind: Kind, args: &str, item: &str) -> String {
        let args: TokenStream = syn::parse_str(args).unwrap();
        let item: TokenStream = syn::parse_str(item).unwrap();
        expand(kind, args, item).to_string()
    }

    fn compile_errors(out: &str) -> Vec<String> {
        // `compile_error! { "msg" }` as printed by proc_macro2.
        out.match_indices("compile_error !")
            .map(|(i, _)| {
                let rest = &out[i..];
                let start = rest.find('"').unwrap() + 1;
                let end = start + rest[start..].find("\" }").unwrap();
                rest[start..end].to_string()
            })
            .collect()
    }

    #[test]
    fn main_expansion() {
        let out = expand_str(
            Kind::Main,
            "worker_threads = 2",
            "async fn main() -> Result<(), E> { f()?; Ok(()) }",
        );
        assert!(compile_errors(&out).is_empty(), "{out}");
        assert!(out.starts_with("fn main () -> Result < () , E >"), "{out}");
        assert!(out.contains(". __run_main (async move {"), "{out}");
        assert!(
            out.contains("let __gort_output : Result < () , E > = { f () ? ; Ok (()) } ;"),
            "{out}"
        );
        assert!(
            out.contains(":: gort :: runtime :: Builder :: new ()"),
            "{out}"
        );
        assert!(
            out.contains(". worker_threads (2usize) . build ()"),
            "{out}"
        );
        assert!(
            out.contains(
                ". build () . unwrap_or_else (| e | { :: std :: eprintln ! (\"gort: cannot start the runtime: {}\" , e) ; :: std :: process :: exit (2) })"
            ),
            "{out}"
        );
        assert!(!out.contains("expect"), "{out}");
        assert!(!out.contains("test"), "{out}");
    }

    #[test]
    fn default_worker_threads_not_set() {
        let out = expand_str(Kind::Main, "", "async fn main() {}");
        assert!(!out.contains("worker_threads"), "{out}");
        assert!(out.contains("let __gort_output : () ="), "{out}");
    }

    #[test]
    fn test_expansion_keeps_attrs_and_visibility() {
        let out = expand_str(
            Kind::Test,
            "",
            "/// doc\n#[should_panic(expected = \"boom\")] #[ignore] pub(crate) async fn my_test() { panic!(\"boom\") }",
        );
        assert!(compile_errors(&out).is_empty(), "{out}");
        assert!(
            out.starts_with("# [:: core :: prelude :: v1 :: test] # [doc = \" doc\"]"),
            "{out}"
        );
        assert!(
            out.contains("# [should_panic (expected = \"boom\")]"),
            "{out}"
        );
        assert!(
            out.contains("# [ignore] pub (crate) fn my_test ()"),
            "{out}"
        );
        assert!(
            out.contains(". build () . expect (\"gort: failed to build the runtime\")"),
            "{out}"
        );
    }

    #[test]
    fn impl_trait_and_never_are_not_named() {
        let out = expand_str(
            Kind::Main,
            "",
            "async fn main() -> impl std::process::Termination {}",
        );
        assert!(!out.contains("__gort_output"), "{out}");
        assert!(out.contains(". __run_main (async move { })"), "{out}");
        let out = expand_str(Kind::Main, "", "async fn main() -> ! { loop {} }");
        assert!(!out.contains("__gort_output"), "{out}");
    }

    #[test]
    fn missing_async() {
        let out = expand_str(Kind::Main, "", "fn main() {}");
        assert_eq!(
            compile_errors(&out),
            [
                "the `async` keyword is missing from the function declaration: \
              `#[gort::main]` needs `async fn main`"
            ]
        );
        // The stub keeps `main` around so no "main not found" follows.
        assert!(out.ends_with("fn main () { }"), "{out}");
    }

    #[test]
    fn main_with_arguments() {
        let out = expand_str(Kind::Main, "", "async fn main(x: u32, y: u32) {}");
        assert_eq!(
            compile_errors(&out),
            ["`#[gort::main]` functions cannot take arguments \
              (the program's entry point is called with none)"]
        );
        assert!(out.ends_with("fn main () { }"), "{out}");
    }

    #[test]
    fn test_with_arguments() {
        let out = expand_str(Kind::Test, "", "async fn t(x: u32) {}");
        assert_eq!(
            compile_errors(&out),
            ["`#[gort::test]` functions cannot take arguments \
              (the test harness calls tests with none)"]
        );
    }

    #[test]
    fn generics_rejected() {
        let out = expand_str(
            Kind::Main,
            "",
            "async fn main<T: Default>() -> T { T::default() }",
        );
        assert_eq!(
            compile_errors(&out),
            ["`#[gort::main]` functions cannot be generic; remove the generic parameters"]
        );
        // The stub must not mention `T`.
        assert!(out.ends_with("fn main () { }"), "{out}");
        let out = expand_str(Kind::Test, "", "async fn t() where u8: Copy {}");
        assert_eq!(
            compile_errors(&out),
            ["`#[gort::test]` functions cannot have a `where` clause"]
        );
    }

    #[test]
    fn second_test_attribute() {
        let out = expand_str(Kind::Test, "", "#[test] async fn t() {}");
        assert_eq!(
            compile_errors(&out),
            [
                "a second test attribute is supplied: `#[gort::test]` already makes \
              the function a test; remove this one"
            ]
        );
    }

    #[test]
    fn not_a_function() {
        let out = expand_str(Kind::Main, "", "struct S;");
        assert_eq!(
            compile_errors(&out),
            ["`#[gort::main]` can only be applied to an `async fn`"]
        );
        assert!(out.ends_with("struct S ;"), "{out}");
    }

    #[test]
    fn argument_and_signature_errors_together() {
        let out = expand_str(Kind::Main, "threads = 2", "fn main() {}");
        let errors = compile_errors(&out);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("unknown argument `threads`"));
        assert!(errors[1].starts_with("the `async` keyword is missing"));
    }

    #[test]
    fn argument_error_still_expands_the_function() {
        let out = expand_str(Kind::Main, "worker_threads = 0", "async fn main() {}");
        assert_eq!(compile_errors(&out).len(), 1, "{out}");
        assert!(out.contains("__run_main"), "{out}");
        assert!(!out.contains(". worker_threads"), "{out}");
    }
}
