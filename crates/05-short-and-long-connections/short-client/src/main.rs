const HELP: &str = "usage: short-client\n";

fn main() {
    let mut args = lesson_cli::Args::parse("short-client", HELP);
    args.finish();
    let _ = py_compat::addr_repr;
}
