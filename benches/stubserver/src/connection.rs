//! One client connection: read a request, answer it, repeat until the client hangs up.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::commands::answer;
use crate::replies::put_error;
use crate::server::Server;
use crate::wire::{
    end_reply, parse_op_msg, parse_op_query, start_op_msg, start_op_reply, Header, OpMsg,
    HEADER_LEN, OP_MSG, OP_QUERY,
};

/// Larger than any request a driver sends in one piece except bulk inserts.
const READ_BUFFER: usize = 256 * 1024;
/// maxMessageSizeBytes plus headroom for the header and document sequences' framing.
const MAX_REQUEST: usize = 48_000_000 + 16 * 1024 * 1024;
const PROTOCOL_ERROR: i32 = 2;

pub async fn serve(stream: TcpStream, server: Arc<Server>, connection_id: i32) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let mut message = Vec::new();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut request_id: i32 = 0;
    loop {
        let mut header = [0u8; HEADER_LEN];
        match reader.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let header = Header::parse(&header);
        let length = usize::try_from(header.length)
            .ok()
            .filter(|length| (HEADER_LEN..=MAX_REQUEST).contains(length))
            .ok_or_else(|| invalid(format!("message length {}", header.length)))?;
        message.resize(length - HEADER_LEN, 0);
        reader.read_exact(&mut message).await?;

        let started = Instant::now();
        request_id = request_id.wrapping_add(1);
        out.clear();
        let reply = respond(
            &mut out,
            &server,
            header,
            &message,
            connection_id,
            request_id,
        )?;
        let built = Instant::now();
        if reply {
            writer.write_all(&out).await?;
        }
        server.stats.record(built - started, built.elapsed());
    }
}

fn invalid(problem: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, problem)
}

/// Writes the reply to one request into `out`; false when the client expects none.
fn respond(
    out: &mut Vec<u8>,
    server: &Server,
    header: Header,
    message: &[u8],
    connection_id: i32,
    request_id: i32,
) -> io::Result<bool> {
    match header.op_code {
        OP_MSG => {
            let start = start_op_msg(out, request_id, header.request_id);
            let expects_reply = match parse_op_msg(message) {
                Ok(command) => {
                    answer(out, server, &command, connection_id);
                    !command.more_to_come
                }
                Err(problem) => {
                    put_error(out, PROTOCOL_ERROR, "BadValue", &problem);
                    true
                }
            };
            end_reply(out, start);
            Ok(expects_reply)
        }
        OP_QUERY => {
            // Only drivers' first handshake still comes this way; any command is answered.
            let start = start_op_reply(out, request_id, header.request_id);
            match parse_op_query(message) {
                Ok((_, query)) => {
                    let command = OpMsg {
                        body: query,
                        sequences: Vec::new(),
                        more_to_come: false,
                    };
                    answer(out, server, &command, connection_id);
                }
                Err(problem) => put_error(out, PROTOCOL_ERROR, "BadValue", &problem),
            }
            end_reply(out, start);
            Ok(true)
        }
        other => Err(invalid(format!("unsupported opcode {other}"))),
    }
}
