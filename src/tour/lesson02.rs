//! Lesson 02: the welcome conversation, sys.argv, and the contacts protocol with the
//! homework (add, find, remove, find again) and one bad command.

use super::{Tour, check};

const WELCOME: &str = "Welcome!\nReceived message1;\nReceived message2;\nReceived message3;\n\
                       Received message4;\nReceived message5;\n";

pub fn run(tour: &mut Tour) -> Result<(), String> {
    // A short pause instead of the original's second per message, so you still see it.
    let addr = tour.server("welcome-server", &["--delay-ms", "50"])?;
    let out = tour.client("welcome-client", &["--addr", &addr], "")?;
    check(
        out.status.success() && out.stdout == WELCOME.as_bytes(),
        "welcome-client did not print the greeting and the five answers",
    )?;
    tour.server_output(0, "closed.", 1, 1)?;

    let out = tour.client("argv-demo", &["arg1", "arg2", "arg3"], "")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    check(
        stdout.starts_with("参数个数为: 4 个参数。\n参数列表: ['")
            && stdout.ends_with("', 'arg1', 'arg2', 'arg3']\n"),
        "argv-demo did not print the count and the list",
    )?;

    let addr = tour.server("contacts-server", &[])?;
    for (command, answer) in [
        (&["add", "zhangsan", "13800138000"][..], "zhangsan added"),
        (&["add", "张三", "13900139000"], "张三 added"),
        (&["find", "zhangsan"], "13800138000"),
        (&["remove", "zhangsan"], "zhangsan removed!"),
        (&["find", "zhangsan"], "Not Found!"),
        (&["add", "onlyname"], "error: use add;NAME;PHONE"),
        (&["find", "张三"], "13900139000"),
    ] {
        let mut args = vec!["--addr", addr.as_str()];
        args.extend_from_slice(command);
        let out = tour.client("contacts-client", &args, "")?;
        // An `error: ...` answer makes contacts-client exit 1.
        let status = i32::from(answer.starts_with("error: "));
        check(
            out.status.code() == Some(status)
                && out.stdout == format!("Welcome!\n{answer}\n").as_bytes(),
            &format!(
                "contacts-client {} did not print `{answer}`",
                command.join(" ")
            ),
        )?;
    }
    // Seven clients, seven connections closed; one bad command logged.
    let shown = tour.server_output(1, " closed.\n", 7, 2)?;
    check(
        shown.contains("{'zhangsan': '13800138000', '张三': '13900139000'}\n"),
        "contacts-server did not print its phone book like a Python dict",
    )
}
