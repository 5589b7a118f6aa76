//! The route table: every router is built through it, so the method and path of each route it serves can be
//! listed, and a test can check that the OpenAPI documents describe all of them.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{self, MethodRouter};

/// A router and the (method, path) of every route added to it, methods in lower case as OpenAPI names them.
pub(crate) struct Routes<S> {
    router: Router<S>,
    served: Vec<(&'static str, String)>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub(crate) fn new() -> Routes<S> {
        Routes { router: Router::new(), served: Vec::new() }
    }

    /// Routes of one path may be added method by method: axum merges them into one route.
    fn add(mut self, method: &'static str, path: impl Into<String>, route: MethodRouter<S>) -> Routes<S> {
        let path = path.into();
        self.router = self.router.route(&path, route);
        self.served.push((method, path));
        self
    }

    pub(crate) fn get<H: Handler<T, S>, T: 'static>(self, path: impl Into<String>, handler: H) -> Routes<S> {
        self.add("get", path, routing::get(handler))
    }

    pub(crate) fn put<H: Handler<T, S>, T: 'static>(self, path: impl Into<String>, handler: H) -> Routes<S> {
        self.add("put", path, routing::put(handler))
    }

    pub(crate) fn post<H: Handler<T, S>, T: 'static>(self, path: impl Into<String>, handler: H) -> Routes<S> {
        self.add("post", path, routing::post(handler))
    }

    pub(crate) fn delete<H: Handler<T, S>, T: 'static>(
        self,
        path: impl Into<String>,
        handler: H,
    ) -> Routes<S> {
        self.add("delete", path, routing::delete(handler))
    }

    pub(crate) fn merge(mut self, other: Routes<S>) -> Routes<S> {
        self.router = self.router.merge(other.router);
        self.served.extend(other.served);
        self
    }

    /// Changes the router (a layer over these routes, say) without adding or removing routes.
    pub(crate) fn wrap(mut self, f: impl FnOnce(Router<S>) -> Router<S>) -> Routes<S> {
        self.router = f(self.router);
        self
    }

    /// The (method, path) of every route, in the order they were added.
    #[cfg(test)]
    pub(crate) fn served(&self) -> &[(&'static str, String)] {
        &self.served
    }

    pub(crate) fn into_router(self) -> Router<S> {
        self.router
    }
}
