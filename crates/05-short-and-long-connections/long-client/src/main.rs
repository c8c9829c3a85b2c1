const HELP: &str = "usage: long-client\n";

fn main() {
    let mut args = lesson_cli::Args::parse("long-client", HELP);
    args.finish();
    let _ = py_compat::addr_repr;
}
