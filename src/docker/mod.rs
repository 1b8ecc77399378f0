//! The only place that talks to a Docker engine (through bollard). Everything outside this module
//! sees the domain types defined here.

pub mod archive;
pub mod compose;
pub mod compose_model;
pub mod containers;
pub mod engine;
pub mod events;
pub mod images;
pub mod networks;
pub mod ops;
pub mod remote;
pub mod swarm;
pub mod volumes;

pub use engine::{
    ContainerState, ContainerStats, ContainerSummary, DockerError, DockerEvent, Engine,
    EngineVersion,
};
