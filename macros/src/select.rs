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
    body: Expr,
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
        while !input.is_empty() {
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
            if !input.peek(Token![=]) || input.peek(Token![=>]) {
                return Err(input.error(
                    "expected `=`: a select! arm is `pattern = future => body` \
                     (for example `v = rx.recv() => ...`), or `default => body`",
                ));
            }
            input.parse::<Token![=]>()?;
            let future: Expr = input.parse()?;
            if !input.peek(Token![=>]) {
                return Err(input.error("expected `=>` after the arm's future"));
            }
            let body = parse_body(input)?;
            arms.push(Arm { pat, future, body });
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

    let lets = input.arms.iter().zip(&case_names).map(|(arm, name)| {
        let fut = &arm.future;
        // The check sits on the expression, so "not a future" points there.
        let checked = quote_spanned!(fut.span()=> #private::arm_must_be_a_future(#fut));
        quote_spanned! {site=>
            let mut #name = ::core::pin::pin!(
                (&#private::ArmInput::new(#checked)).__gort_case()
            );
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
            let take = quote_spanned! {at_arm=>
                let #pat = #name.as_mut().take_output();
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
