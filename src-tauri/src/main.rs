// Hides the console window a release build would open on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    whiz_pos::run();
}
