//! Secrets and bearer tokens never reach the logs, even at trace level (reqwest and hyper
//! included): a subscriber writes everything into a buffer that is then searched.

#[path = "common/graph.rs"]
mod fx;

use m365ctl::backend::TenantBackend;
use m365ctl::plan::Operation;
use m365ctl::plan::ops::{OpKind, SetUsageLocation};
use m365ctl::sim::SimOptions;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_contain_neither_secret_nor_token() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init()
        .expect("the only subscriber in this test binary");

    let fake = fx::start(fx::tenant(30), SimOptions::default()).await;
    let backend = fx::backend(&fake);
    backend.read().await.expect("read");
    fake.expire_tokens();
    let kind = OpKind::SetUsageLocation(SetUsageLocation {
        user_id: fx::id(1, 9),
        upn: fx::upn(9),
        from: None,
        to: "NL".into(),
    });
    let op = Operation {
        id: "u9".into(),
        kind,
        depends_on: Vec::new(),
        reasons: Vec::new(),
    };
    assert!(backend.execute(&[op]).await[0].is_ok());
    let debug = format!("{backend:?}");

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("requesting access token"),
        "the buffer captured our trace output"
    );
    assert!(
        logs.len() > 1_000,
        "trace output of reqwest/hyper captured too"
    );
    assert!(
        !logs.contains(fx::SECRET) && !debug.contains(fx::SECRET),
        "client secret leaked"
    );
    assert!(
        !logs.contains("simtoken.") && !debug.contains("simtoken."),
        "a bearer token leaked"
    );
    assert!(!logs.to_ascii_lowercase().contains("bearer simtoken"));
}
