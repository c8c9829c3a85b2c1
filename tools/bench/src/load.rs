//! The clients: threads of the bench process with blocking std sockets. Each connection
//! has one request in flight at a time (a closed loop: send, wait for the reply, send
//! again), and every reply is checked, so a wrong answer fails the bench.
//!
//! Many clients, few threads: up to `MAX_CLIENT_THREADS` threads, each driving its share
//! of the connections in rounds: it sends one request on each of its connections, then
//! reads each reply in turn. So 1000 clients are 1000 connections with a request in
//! flight on each, served by 20 threads instead of 1000 (on 2 cores, 1000 client threads
//! would measure the scheduler more than the server).
//!
//! Short connections (lesson 05) instead open a connection for every request, one client
//! after the other within a thread.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// At most this many client threads (20: issue 13's point is 20 clients, one thread each).
pub const MAX_CLIENT_THREADS: usize = 20;

/// No connect, read or write of the bench waits longer than this for a server.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A request and the reply it must get.
#[derive(Clone, Copy)]
pub struct Exchange {
    pub request: &'static [u8],
    pub reply: &'static [u8],
}

/// How much load to put on a server.
pub struct Plan {
    pub clients: usize,
    /// Stop sending new requests after this long...
    pub limit: Duration,
    /// ...or once each client has made this many round trips.
    pub per_client: Option<usize>,
    /// Short connections: every request on a connection of its own (lesson 05).
    pub fresh: bool,
}

/// What the clients measured.
pub struct Outcome {
    pub round_trips: usize,
    /// From the start signal until the last client's last reply.
    pub elapsed: Duration,
    /// Every round trip's time, in nanoseconds.
    pub latencies: Vec<u32>,
    /// The CPU time the client threads spent during the run (Linux).
    pub clients_cpu: Option<Duration>,
    /// The connections, still open, so the server can be sampled with all its clients.
    _connections: Vec<TcpStream>,
}

/// Connects `plan.clients` connections to `addr` (each checked with one round trip),
/// calls `at_start` once all are ready, then runs the round trips and returns what they
/// measured, the connections still open.
pub fn run_echo(
    addr: SocketAddr,
    plan: &Plan,
    exchange: Exchange,
    at_start: impl FnOnce(),
) -> Result<Outcome, String> {
    let threads = plan.clients.clamp(1, MAX_CLIENT_THREADS);
    let gate = Arc::new(Gate::default());
    let mut handles = Vec::new();
    let mut spawn_error = None;
    for t in 0..threads {
        // Thread t gets an equal share; the first few take one more each.
        let share = plan.clients / threads + usize::from(t < plan.clients % threads);
        let gate = Arc::clone(&gate);
        let (limit, per_client, fresh) = (plan.limit, plan.per_client, plan.fresh);
        let spawned = thread::Builder::new()
            .name(format!("bench-client-{t}"))
            .stack_size(256 * 1024)
            .spawn(move || {
                let load = Load {
                    addr,
                    share,
                    exchange,
                    limit,
                    per_client,
                    fresh,
                };
                client(&load, &gate)
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                spawn_error = Some(format!("cannot start a client thread: {e}"));
                break;
            }
        }
    }
    let failure = gate.wait_for(handles.len()).or(spawn_error);
    if failure.is_none() {
        at_start();
    }
    let start = Instant::now();
    gate.open(failure.is_none().then_some(start));
    let mut outcome = Outcome {
        round_trips: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        clients_cpu: Some(Duration::ZERO),
        _connections: Vec::new(),
    };
    let mut end = start;
    let mut error = failure;
    for handle in handles {
        match handle.join() {
            Ok(Ok(part)) => {
                outcome.round_trips += part.latencies.len();
                outcome.latencies.extend(part.latencies);
                outcome.clients_cpu = outcome.clients_cpu.zip(part.cpu).map(|(a, b)| a + b);
                outcome._connections.extend(part.connections);
                end = end.max(part.end);
            }
            Ok(Err(why)) => {
                error.get_or_insert(why);
            }
            Err(_) => {
                error.get_or_insert_with(|| "a client thread panicked".to_string());
            }
        }
    }
    if let Some(why) = error {
        return Err(why);
    }
    outcome.elapsed = end.saturating_duration_since(start);
    Ok(outcome)
}

/// What one client thread measured.
struct Part {
    latencies: Vec<u32>,
    cpu: Option<Duration>,
    end: Instant,
    connections: Vec<TcpStream>,
}

/// What one client thread does.
struct Load {
    addr: SocketAddr,
    /// How many of the clients this thread is.
    share: usize,
    exchange: Exchange,
    limit: Duration,
    per_client: Option<usize>,
    fresh: bool,
}

fn client(load: &Load, gate: &Gate) -> Result<Part, String> {
    let Load {
        addr,
        share,
        exchange,
        limit,
        per_client,
        fresh,
    } = *load;
    let mut connections = Vec::with_capacity(share);
    // Checked before the clock starts: the server answers (and, for long connections,
    // every connection is open and accepted).
    let failure = if fresh {
        short_request(addr, exchange).err()
    } else {
        (0..share)
            .try_for_each(|_| {
                let mut conn = connect(addr)?;
                round_trip(&mut conn, exchange)?;
                connections.push(conn);
                Ok::<(), String>(())
            })
            .err()
    };
    let Some(start) = gate.arrive(failure.clone()) else {
        return Err(failure.unwrap_or_else(|| "stopped: another client failed".to_string()));
    };
    let deadline = start + limit;
    let cpu_before = thread_cpu();
    let mut latencies = Vec::new();
    let mut sent = vec![start; connections.len()];
    let mut rounds = 0;
    // At least one round, however late this thread got to run; then until time is up.
    loop {
        if fresh {
            // One round: a short connection for each of this thread's clients in turn.
            for _ in 0..share {
                let at = Instant::now();
                short_request(addr, exchange)?;
                latencies.push(nanos(at.elapsed()));
            }
        }
        // One round: a request on every connection, then every reply in turn.
        for (conn, at) in connections.iter_mut().zip(&mut sent) {
            *at = Instant::now();
            conn.write_all(exchange.request)
                .map_err(|e| format!("cannot send a request: {e}"))?;
        }
        for (conn, at) in connections.iter_mut().zip(&sent) {
            read_reply(conn, exchange)?;
            latencies.push(nanos(at.elapsed()));
        }
        rounds += 1;
        if Instant::now() >= deadline || per_client.is_some_and(|n| rounds >= n) {
            break;
        }
    }
    let end = Instant::now();
    Ok(Part {
        latencies,
        cpu: thread_cpu()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before)),
        end,
        connections,
    })
}

/// A connection with the bench's time limits.
fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let conn = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    conn.set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| conn.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("cannot set a timeout: {e}"))?;
    Ok(conn)
}

/// One request and its reply, on an open connection: its time, in nanoseconds.
fn round_trip(conn: &mut TcpStream, exchange: Exchange) -> Result<u32, String> {
    let at = Instant::now();
    conn.write_all(exchange.request)
        .map_err(|e| format!("cannot send a request: {e}"))?;
    read_reply(conn, exchange)?;
    Ok(nanos(at.elapsed()))
}

/// Reads exactly one reply (a stream has no message boundaries: it may come in pieces)
/// and checks it.
fn read_reply(conn: &mut TcpStream, exchange: Exchange) -> Result<(), String> {
    let mut got = [0u8; 64];
    let got = &mut got[..exchange.reply.len()];
    conn.read_exact(got)
        .map_err(|e| format!("no reply from the server: {e}"))?;
    check(got, exchange.reply)
}

fn check(got: &[u8], expected: &[u8]) -> Result<(), String> {
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "the server answered {:?} instead of {:?}",
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(expected)
        ))
    }
}

fn nanos(d: Duration) -> u32 {
    u32::try_from(d.as_nanos()).unwrap_or(u32::MAX)
}

/// One request on a connection of its own, the way short-client does it: connect, send,
/// close our sending side (the end of the request), read the reply until the server closes.
fn short_request(addr: SocketAddr, exchange: Exchange) -> Result<(), String> {
    let mut conn = connect(addr)?;
    conn.write_all(exchange.request)
        .map_err(|e| format!("cannot send a request: {e}"))?;
    conn.shutdown(Shutdown::Write)
        .map_err(|e| format!("cannot close the sending side: {e}"))?;
    let mut got = Vec::new();
    (&mut conn)
        .take(64)
        .read_to_end(&mut got)
        .map_err(|e| format!("no reply from the server: {e}"))?;
    check(&got, exchange.reply)
}

/// The time the calling thread has spent on a CPU, to the nanosecond (Linux keeps it in
/// /proc/thread-self/schedstat, when the kernel keeps scheduler statistics).
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// The start line of the client threads: each arrives once connected (or failed); the
/// main thread waits for all of them, then opens the gate with the start time, or with
/// none to call the run off.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: usize,
    failure: Option<String>,
    /// None: still closed; Some(None): called off; Some(Some(t)): go, the clock started at t.
    start: Option<Option<Instant>>,
}

impl Gate {
    /// A client thread is ready (or failed with `failure`); waits for the gate to open.
    fn arrive(&self, failure: Option<String>) -> Option<Instant> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.arrived += 1;
        if let Some(why) = failure {
            state.failure.get_or_insert(why);
        }
        self.changed.notify_all();
        while state.start.is_none() {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.start.flatten()
    }

    /// Waits until `threads` client threads arrived; returns the first failure, if any.
    fn wait_for(&self, threads: usize) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.arrived < threads {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.failure.clone()
    }

    fn open(&self, start: Option<Instant>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.start = Some(start);
        self.changed.notify_all();
    }
}
