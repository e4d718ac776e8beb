//! Handlers for a top-level keyed list of the configuration (locations, nodes, address pools,
//! on-net destinations, private networks): list, create, get, replace, delete.
//!
//! They differ only in the list, the names and the documentation, so one macro writes them;
//! each invocation still produces ordinary, separately documented handlers.

/// Writes the five handlers of a top-level keyed list `Config::$field` of `$t`.
macro_rules! keyed_collection {
    (
        type: $t:ty,
        field: $field:ident,
        tag: $tag:literal,
        collection: $collection:literal,
        item: $item:literal,
        param: $param:literal,
        docs: [$list_doc:literal, $create_doc:literal, $get_doc:literal, $update_doc:literal, $delete_doc:literal $(,)?],
        handlers: [$list:ident, $create:ident, $get:ident, $update:ident, $delete:ident $(,)?] $(,)?
    ) => {
        #[doc = $list_doc]
        #[utoipa::path(get, path = $collection, tag = $tag,
                            responses((status = 200, description = "The list", body = Vec<$t>)))]
        pub(crate) async fn $list(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
        ) -> Result<$crate::write::Tagged<Vec<$t>>, $crate::error::ApiError> {
            let current = state.current().await?;
            Ok($crate::write::Tagged::ok(
                current.revision,
                current.config.config.$field.clone(),
            ))
        }

        #[doc = $create_doc]
        #[utoipa::path(post, path = $collection, tag = $tag, request_body = $t,
                            responses((status = 201, description = "Created", body = $t)))]
        pub(crate) async fn $create(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            change: $crate::write::Change,
            $crate::extract::Body(item): $crate::extract::Body<$t>,
        ) -> Result<$crate::write::Tagged<$t>, $crate::error::ApiError> {
            let (revision, item) = $crate::write::write(&state, change, move |config| {
                $crate::resources::insert(&mut config.$field, item.clone())?;
                Ok(item)
            })
            .await?;
            Ok($crate::write::Tagged::created(revision, item))
        }

        #[doc = $get_doc]
        #[utoipa::path(get, path = $item, tag = $tag,
                            params(($param = String, Path, description = "Key of the item")),
                            responses((status = 200, description = "The item", body = $t)))]
        pub(crate) async fn $get(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            $crate::extract::Params(key): $crate::extract::Params<String>,
        ) -> Result<$crate::write::Tagged<$t>, $crate::error::ApiError> {
            let current = state.current().await?;
            let item = $crate::resources::find(&current.config.config.$field, &key)?.clone();
            Ok($crate::write::Tagged::ok(current.revision, item))
        }

        #[doc = $update_doc]
        #[utoipa::path(put, path = $item, tag = $tag, request_body = $t,
                            params(($param = String, Path, description = "Key of the item")),
                            responses((status = 200, description = "Replaced", body = $t)))]
        pub(crate) async fn $update(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            change: $crate::write::Change,
            $crate::extract::Params(key): $crate::extract::Params<String>,
            $crate::extract::Body(item): $crate::extract::Body<$t>,
        ) -> Result<$crate::write::Tagged<$t>, $crate::error::ApiError> {
            let (revision, item) = $crate::write::write(&state, change, move |config| {
                $crate::resources::replace(&mut config.$field, &key, item.clone())?;
                Ok(item)
            })
            .await?;
            Ok($crate::write::Tagged::ok(revision, item))
        }

        #[doc = $delete_doc]
        #[utoipa::path(delete, path = $item, tag = $tag,
                            params(($param = String, Path, description = "Key of the item")),
                            responses((status = 204, description = "Deleted")))]
        pub(crate) async fn $delete(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            change: $crate::write::Change,
            $crate::extract::Params(key): $crate::extract::Params<String>,
        ) -> Result<$crate::write::Tagged<()>, $crate::error::ApiError> {
            let (revision, _) = $crate::write::write(&state, change, move |config| {
                $crate::resources::remove(&mut config.$field, &key).map(drop)
            })
            .await?;
            Ok($crate::write::Tagged::deleted(revision))
        }
    };
}
