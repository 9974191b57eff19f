//! Adapter tests, in one binary so that the shared build stays small: golden upstream bodies,
//! the seed documents' examples, chunking, answer classification, tokens, recall and state.

mod chunking;
mod codes;
mod common;
mod golden;
mod ingress;
mod ops;
mod requests;
mod seed_vectors;
mod tokens;
mod xiaowei;
