//! The alerting module's tables: alert rules and the alerts Alertmanager reported.

pub mod alerts;
pub mod rules;

use crate::store::Store;

/// The alerting module's tables, as accessors on [`Store`] (`state.store.alerts()`).
pub trait AlertingStore {
    fn alert_rules(&self) -> rules::AlertRules<'_>;
    fn alerts(&self) -> alerts::Alerts<'_>;
}

impl AlertingStore for Store {
    fn alert_rules(&self) -> rules::AlertRules<'_> {
        rules::AlertRules(self)
    }
    fn alerts(&self) -> alerts::Alerts<'_> {
        alerts::Alerts(self)
    }
}
