//! (being written)

use axum::Router;

use super::S;

pub fn routes() -> Router<S> {
    Router::new()
}
