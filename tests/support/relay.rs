//! A TCP relay in front of a service on loopback, which a test can take
//! down and bring back: an outage of the service as its clients see it
//! (every open connection cut, every new one closed at once), with the
//! service's state kept.
//!
//! Why not stop LocalStack itself: the community edition keeps no state
//! across a restart (its snapshot persistence is a Pro plugin), so a real
//! stop and start would lose the archive, the queues and the stack, which
//! no outage of S3 or SQS does. The functions reach LocalStack through the
//! relay; the test and the SQS mover reach it directly.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// What the relay's thread and the test share.
#[derive(Default)]
struct State {
    /// Whether connections are relayed (else closed at once).
    up: AtomicBool,
    /// The relayed connections, aborted when the relay goes down.
    open: Mutex<Vec<AbortHandle>>,
    /// Connections closed (cut or refused) by an outage.
    cut: AtomicU64,
}

/// A running relay; stops with the test process.
pub struct Relay {
    /// `http://127.0.0.1:<port>`, to give the clients instead of the
    /// service's own endpoint.
    pub url: String,
    state: Arc<State>,
}

impl Relay {
    /// Starts relaying to `target` (`http://127.0.0.1:<port>`), up, on a
    /// thread and runtime of its own (so that a test blocking its own
    /// runtime never stalls it).
    pub fn start(target: &str) -> Relay {
        let target: SocketAddr = target
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("{target}: not 127.0.0.1:<port>: {e}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State::default());
        state.up.store(true, Ordering::SeqCst);
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(serve(listener, target, shared));
        });
        Relay { url, state }
    }

    /// The outage begins: open connections are cut, new ones closed.
    pub fn down(&self) {
        self.state.up.store(false, Ordering::SeqCst);
        let open = std::mem::take(&mut *self.state.open.lock().unwrap());
        for connection in open {
            if !connection.is_finished() {
                connection.abort();
                self.state.cut.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// The outage ends: connections are relayed again.
    pub fn up(&self) {
        self.state.up.store(true, Ordering::SeqCst);
    }

    /// Connections cut or refused by outages so far.
    pub fn connections_cut(&self) -> u64 {
        self.state.cut.load(Ordering::SeqCst)
    }
}

async fn serve(listener: std::net::TcpListener, target: SocketAddr, state: Arc<State>) {
    let listener = TcpListener::from_std(listener).unwrap();
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        // Under the lock, so that an outage beginning now either finds
        // this connection to cut or has it closed here.
        let mut open = state.open.lock().unwrap();
        if !state.up.load(Ordering::SeqCst) {
            state.cut.fetch_add(1, Ordering::SeqCst);
            drop(client);
            continue;
        }
        let task = tokio::spawn(async move {
            if let Ok(mut server) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
        open.retain(|connection| !connection.is_finished());
        open.push(task.abort_handle());
    }
}
