//! The machinery behind [`select!`](crate::select!) (Go's `selectgo`).
//!
//! The macro turns each arm into a *case* (a [`RecvCase`], a [`SendCase`],
//! or a [`FutureCase`] for any other future) pinned in the caller's frame,
//! and awaits a [`Select`] over them. Exactly one case takes effect:
//!
//! 1. **First pass.** Every case is tried once, in a random order, as a
//!    non-blocking operation (`try_recv`, `try_send`, one poll). The first
//!    that completes wins; nothing was registered, so nothing is undone. With
//!    a `default` arm, the select ends here.
//! 2. **Register.** Each channel case links a waiter into its channel, in
//!    the same random order. The waiters share the select's *claim word*
//!    (0 = open, `case + 1` = won): a counterpart that pops one of them must
//!    win the claim first, and unlinks it as `WaitState::Skipped` if another case won
//!    (see `waiter.rs`). A case is checked and linked under its channel's
//!    lock; if it could complete right now, the select claims its own word
//!    as aborted (so no counterpart can take any case), takes its cases back
//!    and starts again at the first pass. If that claim fails, some
//!    counterpart won a case already linked: that case is the result.
//! 3. **Woken.** The claim names the winner; once its completer has
//!    published the waiter's final state, the select takes the result and
//!    takes every other case back. Future arms are polled on every wake; one
//!    that completes must win the claim itself, or its output is dropped.
//!
//! The claim word lives in the [`Select`] future, which takes every case back
//! in its destructor, so no waiter points at it once it is gone.

use std::cell::Cell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::chan::Chan;
use crate::loom::atomic::Ordering;
use crate::loom::spin_hint;
use crate::waiter::{Claim, Taken, CLAIM_ABORTED};
use crate::{RecvError, RecvFuture, SendError, SendFuture};

/// The number behind [`MAX_CASES`], as a literal for [`TOO_MANY_ARMS`].
macro_rules! max_cases {
    () => {
        64
    };
}

/// The most arms one `select!` may have (besides `default`).
pub const MAX_CASES: usize = max_cases!();

/// The compile error of a `select!` with more than [`MAX_CASES`] arms.
pub const TOO_MANY_ARMS: &str = concat!(
    "select! takes at most ",
    max_cases!(),
    " arms besides `default`"
);

/// Retries of the first pass within one poll before the select yields (two
/// selects facing each other on one channel may abort each other). One
/// under loom, where every retry is many explored steps and the models
/// need the yield that follows to let a half-done operation finish.
const RETRIES_PER_POLL: u32 = if cfg!(loom) { 1 } else { 16 };

/// What a select finds in the case that won its claim.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Won {
    /// The case took effect; its output is stored.
    Taken,
    /// Its completer has claimed it and not yet published the result.
    NotYet,
    /// A buffered channel woke the case, but the operation found nothing
    /// (another operation took the value or the room first): nothing took
    /// effect; the select starts over.
    Lost,
}

impl<R> Taken<R> {
    /// Stores a taken result in `out`.
    fn store_in(self, out: &mut Option<R>) -> Won {
        match self {
            Taken::Done(r) => {
                *out = Some(r);
                Won::Taken
            }
            Taken::NotYet => Won::NotYet,
            Taken::Lost => Won::Lost,
        }
    }
}

/// One arm of a `select!`, type-erased so that the [`Select`] can drive arms
/// of different types. Not meant to be implemented outside this crate.
#[doc(hidden)]
pub trait Case {
    /// First pass: completes the operation now if it can (`true`), without
    /// registering anything.
    fn try_now(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool;
    /// Registers the case as `case` of the select whose claim word is
    /// `claim`; `false` if it could complete now instead.
    fn register(self: Pin<&mut Self>, claim: &Claim, case: usize, cx: &mut Context<'_>) -> bool;
    /// The registered case's select is polled with a new waker.
    fn rewake(self: Pin<&mut Self>, cx: &mut Context<'_>);
    /// The case won the claim: takes the result (`false` while its
    /// completer has not finished).
    fn take_won(self: Pin<&mut Self>) -> Won;
    /// Takes the case back from its channel (idempotent).
    fn unregister(self: Pin<&mut Self>);
    /// An arm on an arbitrary future (polled on every wake).
    fn is_future(&self) -> bool;
}

/// The arms of one `select!`, each pinned in the caller's frame. The macro
/// implements it for a struct of its cases, so that the select future is
/// `Send` exactly when every case is.
#[doc(hidden)]
pub trait CaseSet {
    /// The number of arms (without `default`).
    const LEN: usize;
    /// Arm `i`.
    fn case(&mut self, i: usize) -> Pin<&mut (dyn Case + '_)>;
}

pin_project_lite::pin_project! {
    /// A `select!` arm receiving from a channel.
    #[doc(hidden)]
    pub struct RecvCase<'a, T> {
        #[pin]
        fut: RecvFuture<'a, T>,
        out: Option<Result<T, RecvError>>,
    }
}

impl<'a, T> RecvCase<'a, T> {
    fn fut(self: Pin<&mut Self>) -> Pin<&mut RecvFuture<'a, T>> {
        self.project().fut
    }

    fn out(self: Pin<&mut Self>) -> &mut Option<Result<T, RecvError>> {
        self.project().out
    }

    /// The arm's result, once the select chose it.
    pub fn take_output(self: Pin<&mut Self>) -> Result<T, RecvError> {
        self.out()
            .take()
            .expect("select! took a case's output twice")
    }
}

impl<T> Case for RecvCase<'_, T> {
    fn try_now(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> bool {
        let res = match self.as_mut().fut().project().chan.try_recv() {
            Ok(v) => Ok(v),
            Err(crate::TryRecvError::Closed) => Err(RecvError),
            Err(crate::TryRecvError::Empty) => return false,
        };
        *self.out() = Some(res);
        true
    }

    fn register(self: Pin<&mut Self>, claim: &Claim, case: usize, cx: &mut Context<'_>) -> bool {
        let f = self.fut().project();
        f.chan
            .register_recv_case(f.waiter.as_ref(), claim, case, || Chan::<T>::task_wake(cx))
    }

    fn rewake(self: Pin<&mut Self>, cx: &mut Context<'_>) {
        let f = self.fut().project();
        f.chan
            .rewake_case(f.waiter.as_ref(), false, || Chan::<T>::task_wake(cx));
    }

    fn take_won(mut self: Pin<&mut Self>) -> Won {
        let f = self.as_mut().fut().project();
        let taken = f.chan.take_recv(f.waiter.as_ref());
        let mut out = None;
        let won = taken.store_in(&mut out);
        if let Some(v) = out {
            *self.out() = Some(v.ok_or(RecvError));
        }
        won
    }

    fn unregister(self: Pin<&mut Self>) {
        let f = self.fut().project();
        f.chan.cancel_recv(f.waiter.as_ref());
    }

    fn is_future(&self) -> bool {
        false
    }
}

pin_project_lite::pin_project! {
    /// A `select!` arm sending on a channel. If another arm is chosen, the
    /// value is dropped with the case, never delivered.
    #[doc(hidden)]
    pub struct SendCase<'a, T> {
        #[pin]
        fut: SendFuture<'a, T>,
        out: Option<Result<(), SendError<T>>>,
    }
}

impl<'a, T> SendCase<'a, T> {
    fn fut(self: Pin<&mut Self>) -> Pin<&mut SendFuture<'a, T>> {
        self.project().fut
    }

    fn out(self: Pin<&mut Self>) -> &mut Option<Result<(), SendError<T>>> {
        self.project().out
    }

    /// The arm's result, once the select chose it: `Err` gives the value
    /// back if the channel was closed.
    pub fn take_output(self: Pin<&mut Self>) -> Result<(), SendError<T>> {
        self.out()
            .take()
            .expect("select! took a case's output twice")
    }
}

impl<T> Case for SendCase<'_, T> {
    fn try_now(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> bool {
        let f = self.as_mut().fut().project();
        let v = f.value.take().expect("a send case holds its value");
        let res = match f.chan.try_send(v) {
            Ok(()) => Ok(()),
            Err(crate::TrySendError::Closed(v)) => Err(SendError(v)),
            Err(crate::TrySendError::Full(v)) => {
                *f.value = Some(v);
                return false;
            }
        };
        *self.out() = Some(res);
        true
    }

    fn register(self: Pin<&mut Self>, claim: &Claim, case: usize, cx: &mut Context<'_>) -> bool {
        let f = self.fut().project();
        f.chan
            .register_send_case(f.waiter.as_ref(), f.value, claim, case, || {
                Chan::<T>::task_wake(cx)
            })
    }

    fn rewake(self: Pin<&mut Self>, cx: &mut Context<'_>) {
        let f = self.fut().project();
        f.chan
            .rewake_case(f.waiter.as_ref(), true, || Chan::<T>::task_wake(cx));
    }

    fn take_won(mut self: Pin<&mut Self>) -> Won {
        let f = self.as_mut().fut().project();
        let taken = f.chan.take_send(f.waiter.as_ref(), f.value);
        let mut out = None;
        let won = taken.store_in(&mut out);
        if let Some(r) = out {
            *self.out() = Some(r.map_err(SendError));
        }
        won
    }

    fn unregister(self: Pin<&mut Self>) {
        let f = self.fut().project();
        f.chan.unregister_send_case(f.waiter.as_ref(), f.value);
    }

    fn is_future(&self) -> bool {
        false
    }
}

pin_project_lite::pin_project! {
    /// A `select!` arm on any other future (a timeout, a join handle). It is
    /// polled on every wake of the select; if it completes after another arm
    /// won, its output is dropped, so only futures whose completion has no
    /// side effect to lose belong in such arms.
    #[doc(hidden)]
    pub struct FutureCase<F: Future> {
        #[pin]
        fut: F,
        out: Option<F::Output>,
    }
}

impl<F: Future> FutureCase<F> {
    /// The arm's result, once the select chose it.
    pub fn take_output(self: Pin<&mut Self>) -> F::Output {
        self.project()
            .out
            .take()
            .expect("select! took a case's output twice")
    }
}

impl<F: Future> Case for FutureCase<F> {
    fn try_now(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        let this = self.project();
        match this.fut.poll(cx) {
            Poll::Ready(v) => {
                *this.out = Some(v);
                true
            }
            Poll::Pending => false,
        }
    }

    fn register(self: Pin<&mut Self>, _: &Claim, _: usize, _: &mut Context<'_>) -> bool {
        true
    }

    fn rewake(self: Pin<&mut Self>, _: &mut Context<'_>) {}

    fn take_won(self: Pin<&mut Self>) -> Won {
        Won::Taken
    }

    fn unregister(self: Pin<&mut Self>) {}

    fn is_future(&self) -> bool {
        true
    }
}

/// A guarded arm (`pattern = future, if guard => body`): `None` when its
/// guard was false. Such an arm is Go's nil channel: never ready, it
/// registers nothing, and no counterpart can ever claim it.
impl<C: Case> Case for Option<C> {
    fn try_now(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        self.as_pin_mut().is_some_and(|c| c.try_now(cx))
    }

    fn register(self: Pin<&mut Self>, claim: &Claim, case: usize, cx: &mut Context<'_>) -> bool {
        self.as_pin_mut()
            .is_none_or(|c| c.register(claim, case, cx))
    }

    fn rewake(self: Pin<&mut Self>, cx: &mut Context<'_>) {
        if let Some(c) = self.as_pin_mut() {
            c.rewake(cx);
        }
    }

    fn take_won(self: Pin<&mut Self>) -> Won {
        self.as_pin_mut()
            .expect("a disabled select! arm registers nothing, so it never wins")
            .take_won()
    }

    fn unregister(self: Pin<&mut Self>) {
        if let Some(c) = self.as_pin_mut() {
            c.unregister();
        }
    }

    fn is_future(&self) -> bool {
        self.as_ref().is_some_and(|c| c.is_future())
    }
}

/// The case of a guarded arm the select chose (its guard was true).
#[doc(hidden)]
pub fn enabled<C>(case: Pin<&mut Option<C>>) -> Pin<&mut C> {
    case.as_pin_mut()
        .expect("select! chose an arm its guard disabled")
}

/// The panic of a `select!` whose arms are all disabled by their guards
/// and that has no `default` arm.
const ALL_ARMS_DISABLED: &str = "select!: every arm is disabled by its `if` guard and \
     there is no `default` arm, so nothing could ever happen (Go's select would block \
     forever); to wait forever, write `std::future::pending::<()>().await`";

/// Panics with [`ALL_ARMS_DISABLED`], at the `select!`.
#[doc(hidden)]
#[track_caller]
pub fn all_arms_disabled() -> ! {
    panic!("{ALL_ARMS_DISABLED}")
}

/// The expression of a `select!` arm, before it becomes a case. Which case
/// it becomes is chosen by method resolution (autoref specialization): a
/// `recv()`/`send()` future of a gort channel through [`ChannelArm`], any
/// other future through [`FutureArm`].
#[doc(hidden)]
pub struct ArmInput<F>(Cell<Option<F>>);

impl<F> ArmInput<F> {
    /// Wraps an arm's expression.
    pub fn new(f: F) -> Self {
        ArmInput(Cell::new(Some(f)))
    }

    fn take(&self) -> F {
        self.0
            .take()
            .expect("a select! arm is turned into a case once")
    }
}

/// Channel arms (chosen first by method resolution).
#[doc(hidden)]
pub trait ChannelArm {
    /// The case type.
    type Case;
    /// Turns the arm into its case.
    fn __gort_case(&self) -> Self::Case;
}

impl<'a, T> ChannelArm for ArmInput<RecvFuture<'a, T>> {
    type Case = RecvCase<'a, T>;
    fn __gort_case(&self) -> RecvCase<'a, T> {
        RecvCase {
            fut: self.take(),
            out: None,
        }
    }
}

impl<'a, T> ChannelArm for ArmInput<SendFuture<'a, T>> {
    type Case = SendCase<'a, T>;
    fn __gort_case(&self) -> SendCase<'a, T> {
        SendCase {
            fut: self.take(),
            out: None,
        }
    }
}

/// Arms on any other future (reached through one more autoref).
#[doc(hidden)]
pub trait FutureArm {
    /// The case type.
    type Case;
    /// Turns the arm into its case.
    fn __gort_case(&self) -> Self::Case;
}

impl<F: IntoFuture> FutureArm for &ArmInput<F> {
    type Case = FutureCase<F::IntoFuture>;
    fn __gort_case(&self) -> Self::Case {
        FutureCase {
            fut: self.take().into_future(),
            out: None,
        }
    }
}

/// Checks that an arm's expression is a future, with the error on the
/// expression.
#[doc(hidden)]
pub fn arm_must_be_a_future<F: IntoFuture>(f: F) -> F {
    f
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Start,
    Registered,
    Done,
}

pin_project_lite::pin_project! {
    /// The future a `select!` awaits: resolves to the index of the case that
    /// took effect, or to `S::LEN` for the `default` arm.
    #[doc(hidden)]
    pub struct Select<S: CaseSet> {
        cases: S,
        has_default: bool,
        phase: Phase,
        // The waker the registered cases hold.
        waker: Option<Waker>,
        // The claim word. Its address is handed to the cases' waiters, so
        // the future is `!Unpin` and takes every case back before it goes
        // away.
        claim: Claim,
        #[pin]
        _pinned: PhantomPinned,
    }

    impl<S: CaseSet> PinnedDrop for Select<S> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.phase == Phase::Registered {
                // Dropped while waiting: no waiter may keep a pointer to the
                // claim word. A case that won unseen is taken back like a
                // dropped `recv()`/`send()` (a received value goes back to
                // its channel).
                unregister_all(this.cases);
            }
        }
    }
}

impl<S: CaseSet> Select<S> {
    /// A select over `cases` (at most [`MAX_CASES`]), with a `default` arm
    /// if `has_default`.
    pub fn new(cases: S, has_default: bool) -> Self {
        assert!(S::LEN <= MAX_CASES, "select! has at most {MAX_CASES} arms");
        Select {
            cases,
            has_default,
            phase: Phase::Start,
            waker: None,
            claim: Claim::new(0),
            _pinned: PhantomPinned,
        }
    }
}

fn unregister_all<S: CaseSet>(cases: &mut S) {
    for i in 0..S::LEN {
        cases.case(i).unregister();
    }
}

/// Steps 1 and 2. `Ready(Some(i))`: case `i` (or `default`, `i == n`) took
/// effect; `Ready(None)`: registered (a case may have won meanwhile).
fn start<S: CaseSet>(
    cases: &mut S,
    claim: &Claim,
    has_default: bool,
    phase: &mut Phase,
    cx: &mut Context<'_>,
) -> Poll<Option<usize>> {
    let n = S::LEN;
    for _ in 0..RETRIES_PER_POLL {
        let order = random_order(n);
        let order = &order[..n];
        for &i in order {
            if cases.case(i as usize).try_now(cx) {
                return Poll::Ready(Some(i as usize));
            }
        }
        if has_default {
            return Poll::Ready(Some(n));
        }
        *phase = Phase::Registered;
        if order
            .iter()
            .all(|&i| cases.case(i as usize).register(claim, i as usize, cx))
        {
            return Poll::Ready(None);
        }
        // A case became possible. Abort unless a counterpart already won
        // one of the linked cases.
        if claim
            .compare_exchange(0, CLAIM_ABORTED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Poll::Ready(None);
        }
        unregister_all(cases);
        claim.store(0, Ordering::Release);
        *phase = Phase::Start;
    }
    // Another operation is half-way through a case's channel: let it run.
    spin_hint();
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Step 3. `Ready(Some(i))`: case `i` took effect; `Ready(None)`: the
/// woken case was lost, every case is taken back, start over.
fn poll_registered<S: CaseSet>(
    cases: &mut S,
    claim_word: &Claim,
    waker: &mut Option<Waker>,
    cx: &mut Context<'_>,
) -> Poll<Option<usize>> {
    let mut claim = claim_word.load(Ordering::Acquire);
    if claim == 0 {
        for i in 0..S::LEN {
            if !cases.case(i).is_future() || !cases.case(i).try_now(cx) {
                continue;
            }
            match claim_word.compare_exchange(0, i + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    unregister_all(cases);
                    return Poll::Ready(Some(i));
                }
                Err(c) => {
                    claim = c;
                    break;
                }
            }
        }
    }
    if claim == 0 {
        if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            for i in 0..S::LEN {
                cases.case(i).rewake(cx);
            }
            *waker = Some(cx.waker().clone());
        }
        // A case that won before its waiter saw the new waker holds the old
        // one, which is fired or about to be: look again.
        claim = claim_word.load(Ordering::Acquire);
        if claim == 0 {
            return Poll::Pending;
        }
    }
    let won = claim - 1;
    let mut taken = cases.case(won).take_won();
    if taken == Won::NotYet {
        // The completer has claimed but not yet published. It does both in
        // one hold of the channel's lock, so taking that lock (`rewake`)
        // waits it out; waiting for its wake-up instead could miss one if
        // this poll came with a new waker the completer never saw.
        cases.case(won).rewake(cx);
        taken = cases.case(won).take_won();
    }
    match taken {
        Won::Taken => {
            unregister_all(cases);
            Poll::Ready(Some(won))
        }
        Won::Lost => {
            // Woken for a value (room) that another operation took: nothing
            // happened. Once every case is unlinked no completer can see the
            // claim word, so it can be reopened for the next round.
            unregister_all(cases);
            claim_word.store(0, Ordering::Release);
            spin_hint();
            Poll::Ready(None)
        }
        Won::NotYet => unreachable!("a claimed case is complete once its channel's lock is free"),
    }
}

impl<S: CaseSet> Future for Select<S> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = self.project();
        assert!(
            *this.phase != Phase::Done,
            "select! polled after it completed"
        );
        // One unit of the cooperative budget for the whole select, checked
        // before any case is tried or taken: with it spent, nothing happens
        // in this poll (registered cases stay linked, a claim already won
        // stays won and is taken on the next poll), so exactly one case
        // still takes effect. The cases use the channels directly, not the
        // `recv()`/`send()` futures, so they take no unit of their own;
        // future arms (a sleep, a join handle) take theirs as usual.
        let coop = std::task::ready!(gort_coop::poll_proceed(cx));
        let res = select_poll(
            this.cases,
            this.claim,
            *this.has_default,
            this.phase,
            this.waker,
            cx,
        );
        if res.is_ready() {
            coop.made_progress();
        } else {
            // After the cases (and any future arm) set their own reasons.
            gort_coop::set_wait_reason(gort_coop::WaitReason::Select);
        }
        res
    }
}

/// The body of [`Select::poll`], behind the budget check.
fn select_poll<S: CaseSet>(
    cases: &mut S,
    claim: &Claim,
    has_default: bool,
    phase: &mut Phase,
    waker: &mut Option<Waker>,
    cx: &mut Context<'_>,
) -> Poll<usize> {
    loop {
        if *phase == Phase::Start {
            match start(cases, claim, has_default, phase, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(i)) => {
                    *phase = Phase::Done;
                    return Poll::Ready(i);
                }
                Poll::Ready(None) => *waker = Some(cx.waker().clone()),
            }
        }
        match poll_registered(cases, claim, waker, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(i)) => {
                *phase = Phase::Done;
                *waker = None;
                return Poll::Ready(i);
            }
            Poll::Ready(None) => *phase = Phase::Start,
        }
    }
}

impl<S: CaseSet> fmt::Debug for Select<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("cases", &S::LEN)
            .field("has_default", &self.has_default)
            .field("phase", &self.phase)
            .finish()
    }
}

/// A uniformly random order of `0..n` (Go's `pollorder`); the identity
/// under loom, whose models must be deterministic.
fn random_order(n: usize) -> [u8; MAX_CASES] {
    let mut order = [0u8; MAX_CASES];
    for (i, o) in order.iter_mut().enumerate().take(n) {
        *o = i as u8;
    }
    #[cfg(not(loom))]
    for i in (1..n).rev() {
        let j = (((rng_next() as u128) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    order
}

/// A per-thread xorshift64* generator, seeded from std's hasher keys.
#[cfg(not(loom))]
fn rng_next() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(&h as *const _ as usize);
            h.finish() | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}
