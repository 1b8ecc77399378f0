//! Generated code for `contextbay.v1` arrives with the fleet issue.
