//! `select!`: parsing the arms and expanding them onto gort-channel's
//! `__private` module (see `channel/src/select.rs`).
//!
//! `gort_channel::select!` (re-exported as `gort::select!`) invokes this
//! macro as `select! { $crate; arms... }`: the path before the `;` names
//! gort-channel wherever the caller reached it from, and the expansion
//! refers to `<that path>::__private` only.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Pat, Token};

struct Arm {
    pat: Pat,
    future: Expr,
    /// `, if guard`: the arm is disabled (Go's nil channel) when false.
    guard: Option<Expr>,
    body: Expr,
}

/// The error for tokio's `else` arm.
const NO_ELSE: &str = "gort's select! has no `else` arm: use `default => ...`, \
     which runs when no arm is ready";

/// The error for tokio's `biased;`.
const NO_BIASED: &str = "gort's select! has no `biased;` mode: it always chooses among \
     the ready arms at random, like Go's select, so that no channel starves another";

/// The error for a pattern that can fail to match.
const REFUTABLE: &str = "a select! arm's pattern must be irrefutable: bind the whole \
     output and match inside the body, e.g. `r = rx.recv() => match r { Ok(v) => ..., \
     Err(_) => ... }` (to stop selecting on a channel, disable its arm with a guard: \
     `r = rx.recv(), if open => ...`)";

/// Std's enum variants, which make a pattern refutable wherever they
/// appear in it.
const STD_VARIANTS: [&str; 4] = ["Some", "None", "Ok", "Err"];

fn is_std_variant(path: &syn::Path) -> bool {
    path.segments
        .last()
        .is_some_and(|seg| STD_VARIANTS.iter().any(|v| seg.ident == v))
}

/// The part of `pat` that makes it refutable, if the macro can tell
/// without types: a literal, a range, or one of std's variants (`Some`,
/// `None`, `Ok`, `Err`), anywhere in it. Other refutable patterns (a
/// variant of the caller's own enum) are left to the compiler, whose
/// error then points at the arm.
fn refutable_part(pat: &Pat) -> Option<&Pat> {
    match pat {
        Pat::Lit(_) | Pat::Range(_) => Some(pat),
        Pat::Ident(p) => match &p.subpat {
            Some((_, sub)) => refutable_part(sub),
            None if p.ident == "None" => Some(pat),
            None => None,
        },
        Pat::Path(p) if is_std_variant(&p.path) => Some(pat),
        Pat::TupleStruct(p) if is_std_variant(&p.path) => Some(pat),
        Pat::TupleStruct(p) => p.elems.iter().find_map(refutable_part),
        Pat::Struct(p) if is_std_variant(&p.path) => Some(pat),
        Pat::Struct(p) => p.fields.iter().find_map(|f| refutable_part(&f.pat)),
        Pat::Tuple(p) => p.elems.iter().find_map(refutable_part),
        Pat::Slice(p) => p.elems.iter().find_map(refutable_part),
        Pat::Reference(p) => refutable_part(&p.pat),
        Pat::Paren(p) => refutable_part(&p.pat),
        _ => None,
    }
}

/// `biased;` at the start of the arms (tokio's spelling).
fn peek_biased(input: ParseStream) -> Option<Span> {
    let fork = input.fork();
    let ident = fork.parse::<syn::Ident>().ok()?;
    (ident == "biased" && fork.peek(Token![;])).then(|| ident.span())
}

struct Input {
    arms: Vec<Arm>,
    default: Option<Expr>,
}

/// Parses `=> body` and the comma after it (optional after a block and
/// after the last arm), as a `match` arm does.
fn parse_body(input: ParseStream) -> syn::Result<Expr> {
    input.parse::<Token![=>]>()?;
    let body: Expr = input.parse()?;
    let needs_comma = !matches!(body, Expr::Block(_)) && !input.is_empty();
    if input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
    } else if needs_comma {
        return Err(input.error("expected `,` after this select! arm"));
    }
    Ok(body)
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut arms = Vec::new();
        let mut default = None;
        if let Some(span) = peek_biased(input) {
            return Err(syn::Error::new(span, NO_BIASED));
        }
        while !input.is_empty() {
            if input.peek(Token![else]) {
                return Err(input.error(NO_ELSE));
            }
            if input.peek(Token![default]) && input.peek2(Token![=>]) {
                let kw = input.parse::<Token![default]>()?;
                let body = parse_body(input)?;
                if default.is_some() {
                    return Err(syn::Error::new(
                        kw.span,
                        "select! takes at most one `default` arm",
                    ));
                }
                default = Some(body);
                continue;
            }
            let pat = Pat::parse_single(input)?;
            if let Some(part) = refutable_part(&pat) {
                return Err(syn::Error::new(part.span(), REFUTABLE));
            }
            if !input.peek(Token![=]) || input.peek(Token![=>]) {
                return Err(input.error(
                    "expected `=`: a select! arm is `pattern = future => body` \
                     (for example `v = rx.recv() => ...`), or `default => body`",
                ));
            }
            input.parse::<Token![=]>()?;
            let future: Expr = input.parse()?;
            let mut guard = None;
            if input.peek(Token![,]) && input.peek2(Token![if]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                guard = Some(input.parse()?);
            }
            if !input.peek(Token![=>]) {
                return Err(
                    input.error("expected `=>` after the arm's future (or `, if guard =>`)")
                );
            }
            let body = parse_body(input)?;
            arms.push(Arm {
                pat,
                future,
                guard,
                body,
            });
        }
        Ok(Input { arms, default })
    }
}

/// Splits `krate; arms...` into the path of gort-channel and the arms.
fn split_crate_path(input: TokenStream) -> syn::Result<(TokenStream, TokenStream)> {
    let mut tokens = input.into_iter();
    let mut krate = TokenStream::new();
    for tt in tokens.by_ref() {
        match tt {
            TokenTree::Punct(p) if p.as_char() == ';' => return Ok((krate, tokens.collect())),
            tt => krate.extend([tt]),
        }
    }
    Err(syn::Error::new(
        Span::call_site(),
        "use `gort::select!` or `gort_channel::select!`; this macro is their implementation",
    ))
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let (krate, arms) = match split_crate_path(input) {
        Ok(split) => split,
        Err(e) => return e.to_compile_error(),
    };
    match syn::parse2::<Input>(arms) {
        Ok(input) => expand_input(&krate, input).unwrap_or_else(|e| e.to_compile_error()),
        Err(e) => e.to_compile_error(),
    }
}

fn expand_input(krate: &TokenStream, input: Input) -> syn::Result<TokenStream> {
    // The expansion's own tokens are spanned with the crate path's span,
    // except the arm-count check (the caller's span) and each `let` that
    // takes an arm's output (this hygiene, located at the arm). That span
    // comes from the `select!` the caller wrote (gort-channel's forwarding
    // macro), so the compiler's notes name that macro alone, and the
    // expansion's locals are hygienic to it (`macro_rules` hygiene: the
    // caller's code cannot name them).
    let site = krate
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::mixed_site, |tt| tt.span());
    let n = input.arms.len();
    if n == 0 && input.default.is_none() {
        return Err(syn::Error::new(
            site,
            "select! needs at least one arm (Go's empty `select {}` blocks forever; \
             for that, write `std::future::pending::<()>().await`)",
        ));
    }
    let private = quote_spanned!(site=> #krate::__private);
    // The arm limit is gort-channel's `MAX_CASES`, checked at compile time
    // and reported at the last arm's pattern (past the limit if any arm
    // is), with the caller's span: the error then carries no macro note.
    let limit_check = input.arms.last().map(|last| {
        quote_spanned! {last.pat.span()=>
            const _: () = if #n > #private::MAX_CASES {
                ::core::panic!("{}", #private::TOO_MANY_ARMS)
            };
        }
    });
    let case_names: Vec<_> = (0..n)
        .map(|i| format_ident!("__gort_case{}", i, span = site))
        .collect();
    let branch = format_ident!("__gort_branch", span = site);

    // Guards first, every one in source order; then the futures of the
    // enabled arms, in source order. A disabled arm's case is `None`.
    let guard_names: Vec<_> = (0..n)
        .map(|i| format_ident!("__gort_on{}", i, span = site))
        .collect();
    let guards = input.arms.iter().zip(&guard_names).filter_map(|(arm, on)| {
        let guard = arm.guard.as_ref()?;
        Some(quote_spanned!(guard.span()=> let #on: ::core::primitive::bool = #guard;))
    });
    // Every arm guarded, no `default`: all may be off at once.
    let all_off_check = (input.default.is_none() && input.arms.iter().all(|a| a.guard.is_some()))
        .then(|| {
            quote_spanned! {site=>
                if #(!#guard_names)&&* {
                    #private::all_arms_disabled();
                }
            }
        });
    let lets = input
        .arms
        .iter()
        .zip(&case_names)
        .zip(&guard_names)
        .map(|((arm, name), on)| {
            let fut = &arm.future;
            // The check sits on the expression, so "not a future" points there.
            let checked = quote_spanned!(fut.span()=> #private::arm_must_be_a_future(#fut));
            let case = quote_spanned!(site=> (&#private::ArmInput::new(#checked)).__gort_case());
            let case = match arm.guard {
                Some(_) => quote_spanned! {site=>
                    if #on {
                        ::core::option::Option::Some(#case)
                    } else {
                        ::core::option::Option::None
                    }
                },
                None => case,
            };
            quote_spanned! {site=>
                let mut #name = ::core::pin::pin!(#case);
            }
        });
    let branches = input
        .arms
        .iter()
        .zip(&case_names)
        .enumerate()
        .map(|(i, (arm, name))| {
            let pat = &arm.pat;
            let body = &arm.body;
            // The `let` sits (hygiene as `site`) where the arm's future
            // ends, so the compiler's help for a refutable pattern (`let`
            // with `else`) points at the arm, not into gort-channel.
            let end = arm.future.to_token_stream().into_iter().last();
            let at_arm = end.map_or(site, |tt| site.located_at(tt.span()));
            let name = syn::Ident::new(&name.to_string(), at_arm);
            let case = match arm.guard {
                Some(_) => quote_spanned!(at_arm=> #private::enabled(#name.as_mut())),
                None => quote_spanned!(at_arm=> #name.as_mut()),
            };
            let take = quote_spanned! {at_arm=>
                let #pat = #case.take_output();
            };
            quote_spanned! {site=>
                #i => {
                    #take
                    #body
                }
            }
        });
    let has_default = input.default.is_some();
    let fallback = match &input.default {
        Some(body) => quote_spanned!(site=> _ => { #body }),
        None => quote_spanned!(site=> _ => ::core::unreachable!("select! chose no arm")),
    };
    let set = format_ident!("__GortCases", span = site);
    let params: Vec<_> = (0..n)
        .map(|i| format_ident!("C{}", i, span = site))
        .collect();
    let indices: Vec<_> = (0..n)
        .map(|i| syn::Index {
            index: i as u32,
            span: site,
        })
        .collect();
    let lt = syn::Lifetime::new("'__gort", site);
    Ok(quote_spanned! {site=>
        {
            #limit_check
            #[allow(unused_imports)]
            use #private::{ChannelArm as _, FutureArm as _};
            struct #set<#lt, #(#params),*>(#(::core::pin::Pin<&#lt mut #params>,)* ::core::marker::PhantomData<&#lt ()>);
            impl<#lt, #(#params: #private::Case),*> #private::CaseSet for #set<#lt, #(#params),*> {
                const LEN: usize = #n;
                fn case(&mut self, i: usize) -> ::core::pin::Pin<&mut (dyn #private::Case + '_)> {
                    match i {
                        #(#indices => self.#indices.as_mut(),)*
                        _ => ::core::unreachable!("select! has no arm {}", i),
                    }
                }
            }
            #(#guards)*
            #all_off_check
            #(#lets)*
            let #branch: usize = #private::Select::new(
                #set(#(#case_names.as_mut(),)* ::core::marker::PhantomData),
                #has_default,
            )
            .await;
            match #branch {
                #(#branches)*
                #fallback
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refutable(pat: &str) -> bool {
        let pat = syn::parse::Parser::parse_str(Pat::parse_single, pat).unwrap();
        refutable_part(&pat).is_some()
    }

    #[test]
    fn refutable_patterns_the_macro_can_see() {
        for pat in [
            "Some(v)",
            "None",
            "Ok(v)",
            "Err(_)",
            "Option::Some(v)",
            "std::result::Result::Ok(v)",
            "(a, Some(b))",
            "Wrapper(Some(v))",
            "Point { x: 0, .. }",
            "&Some(v)",
            "v @ 1..=3",
            "[Some(a), b]",
            "0",
            "\"text\"",
        ] {
            assert!(refutable(pat), "{pat} taken as irrefutable");
        }
    }

    #[test]
    fn irrefutable_patterns_are_left_alone() {
        // `Wrapper(v)` and `Point { .. }` may be structs: left to the
        // compiler, as is a variant of the caller's own enum.
        for pat in [
            "v",
            "_",
            "mut v",
            "ref v",
            "(a, b)",
            "(a, (b, _))",
            "Wrapper(v)",
            "Point { x, y: (a, b), .. }",
            "&(a, b)",
            "[a, b]",
            "Msg::Data(v)",
        ] {
            assert!(!refutable(pat), "{pat} taken as refutable");
        }
    }

    fn parse(arms: &str) -> syn::Result<Input> {
        syn::parse_str::<Input>(arms)
    }

    fn error(arms: &str) -> String {
        match parse(arms) {
            Ok(_) => panic!("{arms} parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn guards_parse_after_a_comma() {
        let input =
            parse("v = rx.recv(), if open && n < 3 => f(v), w = g() => {} default => 0").unwrap();
        assert_eq!(input.arms.len(), 2);
        let guard = input.arms[0].guard.as_ref().unwrap();
        assert_eq!(guard.to_token_stream().to_string(), "open && n < 3");
        assert!(input.arms[1].guard.is_none());
        assert!(input.default.is_some());
    }

    #[test]
    fn tokio_spellings_get_their_own_errors() {
        assert_eq!(error("v = rx.recv() => {} else => {}"), NO_ELSE);
        assert_eq!(error("biased; v = rx.recv() => {}"), NO_BIASED);
        assert_eq!(error("Some(v) = rx.recv() => {}"), REFUTABLE);
        // `biased` as a pattern is an ordinary binding.
        assert!(parse("biased = rx.recv() => {}").is_ok());
    }

    #[test]
    fn the_expansion_guards_cases_and_checks_all_off() {
        let krate: TokenStream = "::gort_channel".parse().unwrap();
        let all_guarded = parse("v = a.recv(), if x => v, w = b.recv(), if y => w").unwrap();
        let out = expand_input(&krate, all_guarded).unwrap().to_string();
        assert!(out.contains("all_arms_disabled"), "{out}");
        assert!(out.contains("! __gort_on0 && ! __gort_on1"), "{out}");
        assert!(out.contains("enabled (__gort_case0 . as_mut ())"), "{out}");
        // With an unguarded arm or a `default`, no arm set can be all off.
        for arms in [
            "v = a.recv(), if x => v, w = b.recv() => w",
            "v = a.recv(), if x => v, default => 0",
        ] {
            let out = expand_input(&krate, parse(arms).unwrap())
                .unwrap()
                .to_string();
            assert!(!out.contains("all_arms_disabled"), "{arms}: {out}");
        }
    }
}
