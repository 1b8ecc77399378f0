//! The integration suite: one test binary, a real master on port 0 per test, real HTTP and
//! WebSocket clients.

mod integration {
    pub mod harness;

    mod auth;
    mod errors;
    mod events;
    mod keys;
    mod observability;
    mod permissions;
    mod settings;
    mod transfer;
    mod users;
}
