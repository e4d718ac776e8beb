#[path = "../tests/support/mod.rs"]
mod support;

#[tokio::main]
async fn main() {
    let api = support::Api::start("serve");
    std::fs::write("/tmp/st-token", &api.tokens.operator).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:19090").await.unwrap();
    println!("ready");
    axum::serve(listener, api.router.clone()).await.unwrap();
}
