//! `whiz-backoffice`: the Back Office server and its administration commands.

fn main() {
    eprintln!("whiz-backoffice: the server is being built (issue 3)");
    std::process::exit(2);
}
