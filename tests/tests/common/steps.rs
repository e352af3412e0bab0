//! Shared by the long end-to-end runs that leave screenshots (the dashboard
//! in a browser, the desktop app): numbered steps reported as they go, and
//! the folder the screenshots go to.

use std::path::{Path, PathBuf};
use std::time::Instant;

/// The workspace root (the parent of `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `target/e2e-artifacts/{name}` under the workspace root, made empty.
pub fn fresh_artifacts(name: &str) -> PathBuf {
    let dir = workspace_root().join("target/e2e-artifacts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names of the screenshots (`*.png`) in `dir`, sorted.
pub fn screenshots(dir: &Path) -> Vec<String> {
    let mut shots: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    shots.sort();
    shots
}

/// Prints each step as it starts and ends, and which one failed (when the
/// guard is dropped while a step panics); then runs its cleanup, if any.
#[derive(Default)]
pub struct Steps {
    current: Option<(u32, &'static str, Instant)>,
    cleanup: Option<Box<dyn FnOnce()>>,
}

impl Steps {
    /// Steps that run `cleanup` when dropped, after the last step is
    /// reported, whether it ended or failed.
    pub fn with_cleanup(cleanup: impl FnOnce() + 'static) -> Steps {
        Steps {
            current: None,
            cleanup: Some(Box::new(cleanup)),
        }
    }

    pub fn start(&mut self, n: u32, what: &'static str) {
        self.finish();
        eprintln!("step {n}: {what} ...");
        self.current = Some((n, what, Instant::now()));
    }

    pub fn finish(&mut self) {
        if let Some((n, what, at)) = self.current.take() {
            eprintln!("step {n}: {what}: ok ({} ms)", at.elapsed().as_millis());
        }
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some((n, what, _)) = &self.current {
                eprintln!("step {n}: {what}: FAILED");
            }
        } else {
            self.finish();
        }
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}
