//! Lesson 04: struct.pack('i', 199) and struct.unpack, a port of the seed's struct demo.
//! A number becomes exactly four bytes: the fixed-size header of a length-prefixed frame.

use armour::println;
use lesson_cli::Args;
use py_compat::bytes_repr;

const HELP: &str = include_str!("help.txt");

fn main() {
    let mut args = Args::parse("pack-demo", HELP);
    let number = match args.positional().as_slice() {
        [] => 199,
        [text] => text.parse::<i32>().unwrap_or_else(|e| {
            args.usage_error(format_args!("'{text}' is not a signed 32-bit number: {e}"))
        }),
        [_, extra, ..] => args.usage_error(format_args!("unexpected argument '{extra}'")),
    };

    // v1 = struct.pack('i', 199): 'i' is a C int, 4 bytes, in the machine's byte order.
    // Every PC and phone CPU is little-endian (lowest byte first), so we write that out.
    let v1: [u8; 4] = number.to_le_bytes();

    // v2 = struct.unpack('i', v1): the same 4 bytes read back as a number. Python gives
    // a tuple, because a format string can describe several values.
    let v2 = i32::from_le_bytes(v1);
    println!("({v2},)");

    eprintln!("struct.pack('i', {number}) = {} = {v1:?}", bytes_repr(&v1));
    eprintln!(
        "byte order: 'i' uses the machine's order, little-endian (lowest byte first) on every \
         PC and phone; network order '!i' would be {:?}",
        number.to_be_bytes()
    );
}
