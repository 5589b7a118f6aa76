//! The tactical alerts operators read: the core's tactical detection (`entente_uss::service::rid::RidRounds`, fed
//! by every position this USS sees) converted to the operator API.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use entente_uss::service::rid::Alert;
use entente_wire::operator::{AlertList, TacticalAlert};
use entente_wire::{LatLngPoint, time_out};

use crate::error::ApiError;
use crate::extract::Auth;
use crate::uss::UssState;
use crate::uss::operator::OPERATOR_SCOPE;

/// The predicted losses of separation between aircraft this USS sees, as of their latest positions.
#[utoipa::path(get, path = "/operator/v1/alerts", tag = "Operator",
    responses((status = 200, description = "Current tactical alerts", body = AlertList), crate::responses::Unauthorized, crate::responses::NotOperator))]
pub(crate) async fn alerts(State(st): State<Arc<UssState>>, auth: Auth) -> Result<Json<AlertList>, ApiError> {
    auth.require(OPERATOR_SCOPE)?;
    Ok(Json(AlertList { alerts: st.core.rid.alerts().into_iter().map(alert_out).collect() }))
}

fn alert_out(a: Alert) -> TacticalAlert {
    TacticalAlert {
        aircraft: a.aircraft,
        loss_start: time_out(a.loss_start),
        loss_end: a.loss_end.map(time_out),
        cpa_time: time_out(a.cpa_time),
        cpa_distance_m: a.cpa_distance_m,
        raised: time_out(a.raised),
        positions: a.positions.map(|p| LatLngPoint { lat: p.lat, lng: p.lng }),
    }
}
