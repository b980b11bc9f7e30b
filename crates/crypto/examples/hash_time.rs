//! Prints how long one bcrypt hash takes at a cost, for the benchmark harness's hashing limit
//! (cores / time of one hash). Usage: `cargo run --release -p roster-crypto --example hash_time -- 12 10`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().as_deref().unwrap_or("12").parse()?;
    let rounds: u32 = args.next().as_deref().unwrap_or("10").parse()?;
    let _ = bcrypt::hash("warm-up", cost)?;
    let started = Instant::now();
    for _ in 0..rounds {
        let _ = bcrypt::hash("Str0ng!pass", cost)?;
    }
    let each = started.elapsed().as_secs_f64() / f64::from(rounds);
    #[expect(clippy::print_stdout, reason = "the example's output is its result")]
    {
        println!("{each:.6}");
    }
    Ok(())
}
