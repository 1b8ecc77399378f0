//! Connections that switch protocols (WebSockets: `/api/ws`, container logs, exec) leave
//! actix-http's HTTP/1 dispatcher and are carried by a small loop of our own.
//!
//! The dispatcher keeps two 8 KiB buffers for the life of a connection (`HW_BUFFER_SIZE` in
//! `actix-http` 3.19, not configurable). For a keep-alive connection that is the price of fast
//! request parsing; for an idle WebSocket it was two thirds of its memory (docs/performance.md,
//! "Where an idle `/api/ws` connection's memory goes"). actix-http hands a request that asks for
//! an upgrade, together with its connection, to an *upgrade service*: this module is that service.
//!
//! Nothing about the request's handling changes: the request goes through the same `App` (the
//! gate with its path checks, authentication, rate limits and origin check, then the handler),
//! with a payload this loop feeds from the socket. Only the bytes move differently:
//! - what the client sends is read into a stack buffer and handed to the request's payload as it
//!   arrives, respecting the payload's back-pressure (it pauses reading at 32 KiB unread);
//! - what the handler's response body yields is encoded by the connection's HTTP/1 codec and
//!   written straight to the socket, one chunk at a time.
//!
//! An idle connection therefore holds no buffer at all.
//!
//! actix-http hands over a request whose headers ask for `Upgrade: websocket` (unless its body
//! is chunked), and a `CONNECT` without a body length; nothing else. Whatever the route, the
//! application answers it as usual. A response that does not switch protocols (the gate refused
//! the handshake, or the route is not a socket) is written with `Connection: close` and the
//! connection ends after it: keep-alive is not offered on this path. A request body on this path
//! runs until the client half-closes (actix-http reads an upgrade request's payload to the end of
//! the stream, as it did before this loop existed).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_codec::{Encoder, Framed};
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::error::PayloadError;
use actix_http::h1::{self, Message};
use actix_http::{ConnectionType, Request, Response, StatusCode};
use actix_web::dev::Service;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bytes read from the socket per read call. A stack buffer: it exists only while the loop runs.
const READ_CHUNK: usize = 4096;
/// Reads per wake-up before the loop yields to other connections on the worker.
const READS_PER_WAKE: usize = 16;
/// Unread payload bytes at which reading from the socket pauses (actix-http's own limit).
const MAX_UNREAD: usize = 32 * 1024;

/// Serves one upgrade request on its connection: calls the application with it, writes the
/// response head, then carries bytes both ways until either side ends.
pub async fn serve<S, B>(
    app: Rc<S>,
    mut req: Request,
    framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), actix_web::Error>
where
    S: Service<Request>,
    S::Response: Into<Response<B>>,
    S::Error: Into<Response<BoxBody>>,
    B: MessageBody + 'static,
{
    let parts = framed.into_parts();
    let mut codec = parts.codec;
    let inbound = Rc::new(RefCell::new(Inbound::default()));
    // What the client sent after the request head (a first WebSocket frame can arrive with the
    // handshake) is the start of the payload. Copied, so the dispatcher's buffers are freed.
    if !parts.read_buf.is_empty() {
        inbound
            .borrow_mut()
            .push(Bytes::copy_from_slice(&parts.read_buf));
    }
    drop((parts.read_buf, parts.write_buf));
    *req.payload() = actix_http::Payload::Stream {
        payload: Box::pin(InboundStream(Rc::clone(&inbound))),
    };
    let mut conn = Conn {
        io: parts.io,
        inbound: Some(inbound),
    };

    // The handler may read the payload before it answers, so the socket is read meanwhile.
    let mut call = pin!(app.call(req));
    let res: Response<BoxBody> = poll_fn(|cx| {
        if let Poll::Ready(res) = call.as_mut().poll(cx) {
            return Poll::Ready(match res {
                Ok(res) => res.into().map_into_boxed_body(),
                Err(err) => err.into(),
            });
        }
        let _ = conn.poll_read(cx);
        Poll::Pending
    })
    .await;

    let switching = res.status() == StatusCode::SWITCHING_PROTOCOLS;
    let (mut head, body) = res.into_parts();
    if !switching {
        head.head_mut().set_connection_type(ConnectionType::Close);
    }
    let size = body.size();
    let mut out = BytesMut::new();
    if let Err(err) = codec.encode(Message::Item((head, size)), &mut out) {
        tracing::debug!(%err, "encoding an upgrade response head");
        return Ok(());
    }
    let mut body = pin!(body);
    if let Err(err) = conn
        .pump(
            out.freeze(),
            body.as_mut(),
            &mut codec,
            !matches!(size, BodySize::None),
        )
        .await
    {
        tracing::debug!(%err, switching, "upgraded connection ended");
    }
    Ok(())
}

/// The socket and the loop's side of the request's payload.
struct Conn {
    io: TcpStream,
    /// `None` once the client has finished sending (or the handler dropped the payload).
    inbound: Option<Rc<RefCell<Inbound>>>,
}

impl Conn {
    /// Writes `head`, then every chunk of `body`, while moving what the client sends into the
    /// payload. Ends when the body ends (then the write side is shut down) or the socket fails.
    async fn pump(
        &mut self,
        head: Bytes,
        mut body: Pin<&mut BoxBody>,
        codec: &mut h1::Codec,
        has_body: bool,
    ) -> io::Result<()> {
        let mut pending = head;
        let mut finished = !has_body;
        poll_fn(|cx| {
            let _ = self.poll_read(cx);
            loop {
                while !pending.is_empty() {
                    match Pin::new(&mut self.io).poll_write(cx, &pending) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                        }
                        Poll::Ready(Ok(n)) => pending.advance(n),
                        Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                if finished {
                    return Poll::Ready(Ok(()));
                }
                let mut encoded = BytesMut::new();
                match body.as_mut().poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(chunk))) => {
                        encoded.reserve(chunk.len() + 16);
                        codec.encode(Message::Chunk(Some(chunk)), &mut encoded)?;
                    }
                    Poll::Ready(Some(Err(err))) => {
                        return Poll::Ready(Err(io::Error::other(err.to_string())));
                    }
                    Poll::Ready(None) => {
                        codec.encode(Message::Chunk(None), &mut encoded)?;
                        finished = true;
                    }
                }
                pending = encoded.freeze();
            }
        })
        .await?;
        poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await
    }

    /// Moves what the client has sent into the payload, as far as the payload wants it.
    /// `Ready` once the client has finished sending, the socket failed or the payload is gone;
    /// `Pending` with a wake-up registered (on the socket, or on the payload when it is full).
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..READS_PER_WAKE {
            let Some(inbound) = self.inbound.as_ref() else {
                return Poll::Ready(());
            };
            if Rc::strong_count(inbound) == 1 {
                // The handler dropped the payload: nobody reads what the client sends.
                self.inbound = None;
                return Poll::Ready(());
            }
            if inbound.borrow().unread >= MAX_UNREAD {
                inbound.borrow_mut().writer = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let mut buf = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut buf);
            let outcome = match Pin::new(&mut self.io).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if read.filled().is_empty() => Err(None),
                Poll::Ready(Ok(())) => Ok(Bytes::copy_from_slice(read.filled())),
                Poll::Ready(Err(err)) => Err(Some(err)),
            };
            let mut shared = inbound.borrow_mut();
            match outcome {
                Ok(bytes) => shared.push(bytes),
                Err(error) => {
                    shared.end(error);
                    drop(shared);
                    self.inbound = None;
                    return Poll::Ready(());
                }
            }
        }
        // More may be waiting: come back after the other connections on this worker had a turn.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// What the client sent and the handler has not read yet, shared by this loop and the request's
/// payload stream (a connection lives on one worker thread, hence `Rc<RefCell<_>>`).
#[derive(Default)]
struct Inbound {
    chunks: VecDeque<Bytes>,
    unread: usize,
    /// The client finished sending; with the error when reading the socket failed.
    ended: Option<Option<io::Error>>,
    /// The handler waiting for data.
    reader: Option<Waker>,
    /// The loop waiting for the handler to make room.
    writer: Option<Waker>,
}

impl Inbound {
    fn push(&mut self, bytes: Bytes) {
        self.unread += bytes.len();
        self.chunks.push_back(bytes);
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
    }

    fn end(&mut self, error: Option<io::Error>) {
        self.ended = Some(error);
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
    }
}

/// The request's payload: the bytes the loop read from the socket, in order.
struct InboundStream(Rc<RefCell<Inbound>>);

impl Stream for InboundStream {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut shared = self.0.borrow_mut();
        if let Some(bytes) = shared.chunks.pop_front() {
            shared.unread -= bytes.len();
            if let Some(writer) = shared.writer.take() {
                writer.wake();
            }
            return Poll::Ready(Some(Ok(bytes)));
        }
        match shared.ended.as_mut() {
            Some(error) => Poll::Ready(error.take().map(|err| Err(PayloadError::Io(err)))),
            None => {
                shared.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for InboundStream {
    fn drop(&mut self) {
        // The loop notices the dropped payload (its count of the shared state falls to one) the
        // next time it runs; wake it if it was waiting for room.
        if let Ok(mut shared) = self.0.try_borrow_mut()
            && let Some(writer) = shared.writer.take()
        {
            writer.wake();
        }
    }
}
