const HELP: &str = "usage: long-server\n";

fn main() {
    let mut args = lesson_cli::Args::parse("long-server", HELP);
    args.finish();
    let _ = py_compat::addr_repr;
}
