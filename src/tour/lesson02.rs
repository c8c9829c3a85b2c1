//! Lesson 02: not ported yet (its issue adds the programs and this tour entry).

use super::Tour;

pub fn run(_tour: &mut Tour) -> Result<(), String> {
    Err("not ported yet".to_string())
}
