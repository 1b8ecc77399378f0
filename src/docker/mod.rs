//! The only place that talks to a Docker engine (through bollard). Everything outside this module
//! sees the domain types defined here.

pub mod engine;

pub use engine::{
    ContainerState, ContainerStats, ContainerSummary, DockerError, DockerEvent, Engine,
    EngineVersion,
};
