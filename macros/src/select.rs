//! `select!`: parsing the arms and expanding them onto
//! `::gort::chan::__private` (see `channel/src/select.rs`).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Pat, Token};

/// The most arms a select may have (`gort_channel::__private::MAX_CASES`).
const MAX_CASES: usize = 64;

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

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<Input>(input) {
        Ok(input) => expand_input(input).unwrap_or_else(|e| e.to_compile_error()),
        Err(e) => e.to_compile_error(),
    }
}

fn expand_input(input: Input) -> syn::Result<TokenStream> {
    let n = input.arms.len();
    if n == 0 && input.default.is_none() {
        return Err(syn::Error::new(
            Span::call_site(),
            "select! needs at least one arm (Go's empty `select {}` blocks forever; \
             for that, write `std::future::pending::<()>().await`)",
        ));
    }
    if n > MAX_CASES {
        return Err(syn::Error::new(
            input.arms[MAX_CASES].pat.span(),
            format!("select! takes at most {MAX_CASES} arms besides `default`"),
        ));
    }
    let private = quote!(::gort::chan::__private);
    let site = Span::mixed_site();
    let case_names: Vec<_> = (0..n)
        .map(|i| format_ident!("__gort_case{}", i, span = site))
        .collect();
    let branch = format_ident!("__gort_branch", span = site);

    let lets = input.arms.iter().zip(&case_names).map(|(arm, name)| {
        let fut = &arm.future;
        // The check sits on the expression, so "not a future" points there.
        let checked = quote_spanned!(fut.span()=> #private::arm_must_be_a_future(#fut));
        quote! {
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
            quote! {
                #i => {
                    let #pat = #name.as_mut().take_output();
                    #body
                }
            }
        });
    let has_default = input.default.is_some();
    let fallback = match &input.default {
        Some(body) => quote!(_ => { #body }),
        None => quote!(_ => ::core::unreachable!("select! chose no arm")),
    };
    let set = format_ident!("__GortCases", span = site);
    let params: Vec<_> = (0..n)
        .map(|i| format_ident!("C{}", i, span = site))
        .collect();
    let indices: Vec<_> = (0..n).map(syn::Index::from).collect();
    let lt = syn::Lifetime::new("'__gort", site);
    Ok(quote! {
        {
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
