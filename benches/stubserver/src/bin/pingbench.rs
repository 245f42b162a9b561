//! pingbench: the cost of one round trip to the stub server.
//!
//! ```text
//! pingbench 127.0.0.1:PORT [COUNT]
//! ```
//! Sends COUNT (default 20000) OP_MSG pings one after another on one blocking socket, after
//! a warm-up, and prints the round trip's median and mean together with the server's own
//! time per request (from `stubStats`). The round trip includes both kernels' loopback work
//! and this client; the server's time is the part the stub adds to every operation.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const WARM_UP: usize = 2000;

/// An OP_MSG carrying `{<name>: 1, $db: "admin"}`.
fn command(name: &str, request_id: i32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0; 4]);
    body.push(0x10);
    body.extend_from_slice(name.as_bytes());
    body.push(0);
    body.extend_from_slice(&1i32.to_le_bytes());
    body.push(0x02);
    body.extend_from_slice(b"$db\0");
    body.extend_from_slice(&6i32.to_le_bytes());
    body.extend_from_slice(b"admin\0");
    body.push(0);
    let body_len = i32::try_from(body.len()).expect("small");
    body[..4].copy_from_slice(&body_len.to_le_bytes());

    let length = i32::try_from(16 + 4 + 1 + body.len()).expect("small");
    let mut message = Vec::new();
    message.extend_from_slice(&length.to_le_bytes());
    message.extend_from_slice(&request_id.to_le_bytes());
    message.extend_from_slice(&0i32.to_le_bytes());
    message.extend_from_slice(&2013i32.to_le_bytes());
    message.extend_from_slice(&0u32.to_le_bytes());
    message.push(0);
    message.extend_from_slice(&body);
    message
}

/// Sends `message` and returns the reply's body document.
fn round_trip(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<bson::Document> {
    stream.write_all(message)?;
    let mut header = [0u8; 16];
    stream.read_exact(&mut header)?;
    let length = i32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let mut rest = vec![0u8; usize::try_from(length).unwrap_or(16) - 16];
    stream.read_exact(&mut rest)?;
    bson::Document::from_reader(&rest[5..]).map_err(std::io::Error::other)
}

/// (requests, build ns, write ns, CPU ns) from the server's `stubStats`.
fn server_time(stream: &mut TcpStream) -> std::io::Result<[i64; 4]> {
    let reply = round_trip(stream, &command("stubStats", 1))?;
    let field = |name| reply.get_i64(name).unwrap_or(0);
    Ok([
        field("requests"),
        field("build_ns"),
        field("write_ns"),
        field("cpu_ns"),
    ])
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| {
        eprintln!("usage: pingbench HOST:PORT [COUNT]");
        std::process::exit(2);
    });
    let count: usize = args
        .next()
        .map_or(20_000, |n| n.parse().expect("COUNT is a number"));
    let mut stream = TcpStream::connect(&address)?;
    stream.set_nodelay(true)?;
    let ping = command("ping", 7);

    for _ in 0..WARM_UP {
        round_trip(&mut stream, &ping)?;
    }
    let before = server_time(&mut stream)?;
    let mut samples: Vec<Duration> = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        round_trip(&mut stream, &ping)?;
        samples.push(started.elapsed());
    }
    let after = server_time(&mut stream)?;

    samples.sort();
    let median = samples[samples.len() / 2];
    let mean = samples.iter().sum::<Duration>() / u32::try_from(count).expect("count fits u32");
    // The first stats request is counted in the difference too.
    #[allow(clippy::cast_precision_loss)]
    let per_request = |at: usize| (after[at] - before[at]) as f64 / (after[0] - before[0]) as f64;
    println!(
        "{{\"pings\": {count}, \"rtt_median_us\": {:.2}, \"rtt_mean_us\": {:.2}, \
         \"server_build_ns\": {:.0}, \"server_write_ns\": {:.0}, \"server_cpu_ns\": {:.0}}}",
        median.as_secs_f64() * 1e6,
        mean.as_secs_f64() * 1e6,
        per_request(1),
        per_request(2),
        per_request(3),
    );
    Ok(())
}
