//! Shared pieces of the workspace tests: a real Dovecot on loopback and an
//! IMAP client to look into it, LocalStack, the `archiver` command.

#![allow(dead_code)] // each test binary uses a different part

pub mod corpus;
pub mod dovecot;
pub mod examples;
pub mod graph;
pub mod localstack;
pub mod postfix;
pub mod process;
pub mod relay;
pub mod serverless;
pub mod template;
pub mod token_endpoint;
pub mod tree;
pub mod wecom;
