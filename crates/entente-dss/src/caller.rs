//! Who is asking: the manager identity (token `sub`) and the scopes the token grants.

/// The F3548 scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    StrategicCoordination,
    ConstraintManagement,
    ConstraintProcessing,
    ConformanceMonitoringSa,
    AvailabilityArbitration,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::StrategicCoordination,
        Scope::ConstraintManagement,
        Scope::ConstraintProcessing,
        Scope::ConformanceMonitoringSa,
        Scope::AvailabilityArbitration,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::StrategicCoordination => "utm.strategic_coordination",
            Scope::ConstraintManagement => "utm.constraint_management",
            Scope::ConstraintProcessing => "utm.constraint_processing",
            Scope::ConformanceMonitoringSa => "utm.conformance_monitoring_sa",
            Scope::AvailabilityArbitration => "utm.availability_arbitration",
        }
    }

    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[derive(Clone, Debug)]
pub struct Caller {
    pub manager: String,
    pub scopes: Vec<Scope>,
}

impl Caller {
    pub fn new(manager: impl Into<String>, scopes: impl IntoIterator<Item = Scope>) -> Caller {
        Caller { manager: manager.into(), scopes: scopes.into_iter().collect() }
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}
