//! Compression of a whole event stream, one context per stream, flushed at
//! the end of every frame (feature `compression`).
//!
//! The response body's frames pass through [`CompressedBody`] on their way
//! to hyper: events, keep-alives, final frames, hub and runs frames alike.
//! Each frame is compressed with the stream's own context and flushed (a
//! zlib sync flush, a zstd or Brotli flush), so the client can decode every
//! event as soon as it arrives, while keys repeated from event to event
//! compress against the ones before them.
//!
//! Memory is what decides the settings. A compression context costs
//! hundreds of KiB with the libraries' defaults, against about 21 KiB for a
//! whole idle uncompressed stream (`BENCHMARKS.md`), so each codec is tuned
//! for small, flushed frames, and gzip, the one chosen when a client
//! accepts several alike, gives its context back whenever the stream
//! waits:
//!
//! * gzip: level 1, a 4 KiB window. While the stream is idle it keeps only
//!   the last 4 KiB of what it sent; the next frame starts a new deflate
//!   context primed with those bytes (`deflateSetDictionary`), and its
//!   blocks continue the same deflate stream, as pigz joins blocks
//!   compressed apart. The client sees one gzip stream.
//! * zstd: level 1, a 1 KiB window and 1 KiB tables; the context stays for
//!   the stream's life (a zstd frame cannot change contexts midway).
//! * Brotli: quality 3 (below it, each flushed frame is compressed on its
//!   own), its smallest window; its context stays for the stream's life
//!   too, and its hash table alone is 256 KiB whatever the window, which is
//!   why Brotli is offered only when asked for.
//!
//! The figures behind each choice (bytes on the wire, CPU per event, memory
//! per idle stream) are in `BENCHMARKS.md`.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderValue;
use http_body::Frame;

/// Which encodings a stream may be compressed with; the client's
/// `Accept-Encoding` picks one of them, or none. Set it with
/// [`SseConfig::compression`](crate::SseConfig::compression), or
/// `#[sse_handler(compress = true)]` for [`Compression::new`].
///
/// When a client accepts several alike (browsers send `gzip, deflate, br,
/// zstd`), gzip is chosen, then zstd, then Brotli: on flushed event frames
/// gzip makes the smallest output, and it is the one that keeps almost no
/// memory while a stream is idle (see `BENCHMARKS.md`). A client's
/// q-values come first.
///
/// ```
/// use sse_runtime::{Compression, SseConfig};
///
/// let config = SseConfig::new().compression(Compression::new().brotli(true));
/// assert!(config.compression_offered().offers_brotli());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    gzip: bool,
    zstd: bool,
    brotli: bool,
}

impl Default for Compression {
    /// The same as [`Compression::off`]: streams are sent as they are
    /// unless a handler asks otherwise.
    fn default() -> Self {
        Compression::off()
    }
}

impl Compression {
    /// No compression: every stream is sent as it is. The default.
    ///
    /// ```
    /// assert!(!sse_runtime::Compression::off().is_on());
    /// ```
    pub const fn off() -> Compression {
        Compression {
            gzip: false,
            zstd: false,
            brotli: false,
        }
    }

    /// gzip and zstd, as the client accepts. Brotli is left out, since its
    /// context keeps hundreds of KiB for the whole life of a stream; add it
    /// with [`brotli`](Self::brotli).
    ///
    /// ```
    /// let compression = sse_runtime::Compression::new();
    /// assert!(compression.offers_gzip() && compression.offers_zstd() && !compression.offers_brotli());
    /// ```
    pub const fn new() -> Compression {
        Compression {
            gzip: true,
            zstd: true,
            brotli: false,
        }
    }

    /// Offers gzip, or stops offering it.
    ///
    /// ```
    /// assert!(!sse_runtime::Compression::new().gzip(false).offers_gzip());
    /// ```
    pub const fn gzip(mut self, offer: bool) -> Compression {
        self.gzip = offer;
        self
    }

    /// Offers zstd, or stops offering it.
    ///
    /// ```
    /// assert!(!sse_runtime::Compression::new().zstd(false).offers_zstd());
    /// ```
    pub const fn zstd(mut self, offer: bool) -> Compression {
        self.zstd = offer;
        self
    }

    /// Offers Brotli (`br`), or stops offering it. A Brotli stream keeps
    /// its context, whose hash table alone is 256 KiB, for as long as it is
    /// open; after a large event (200 KB), about 570 KiB (`BENCHMARKS.md`).
    ///
    /// ```
    /// assert!(sse_runtime::Compression::off().brotli(true).offers_brotli());
    /// ```
    pub const fn brotli(mut self, offer: bool) -> Compression {
        self.brotli = offer;
        self
    }

    /// Whether gzip is offered.
    ///
    /// ```
    /// assert!(sse_runtime::Compression::new().offers_gzip());
    /// ```
    pub const fn offers_gzip(&self) -> bool {
        self.gzip
    }

    /// Whether zstd is offered.
    ///
    /// ```
    /// assert!(sse_runtime::Compression::new().offers_zstd());
    /// ```
    pub const fn offers_zstd(&self) -> bool {
        self.zstd
    }

    /// Whether Brotli is offered.
    ///
    /// ```
    /// assert!(!sse_runtime::Compression::new().offers_brotli());
    /// ```
    pub const fn offers_brotli(&self) -> bool {
        self.brotli
    }

    /// Whether any encoding is offered: the response then varies with
    /// `Accept-Encoding`.
    ///
    /// ```
    /// assert!(sse_runtime::Compression::new().is_on());
    /// ```
    pub const fn is_on(&self) -> bool {
        self.gzip || self.zstd || self.brotli
    }

    /// The encoding to use for a request that sent `accept` as its
    /// `Accept-Encoding`: the offered one with the highest q-value, ties
    /// going to gzip, then zstd, then Brotli; `None` for none (no header,
    /// nothing offered acceptable, or a header that cannot be read).
    pub(crate) fn negotiate(&self, accept: Option<&HeaderValue>) -> Option<Coding> {
        let accept = accept?.to_str().ok()?;
        let mut best: Option<(Coding, u16)> = None;
        for coding in Coding::PREFERENCE {
            if !self.offers(coding) {
                continue;
            }
            let q = quality(accept, coding);
            if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
                best = Some((coding, q));
            }
        }
        best.map(|(coding, _)| coding)
    }

    fn offers(&self, coding: Coding) -> bool {
        match coding {
            Coding::Gzip => self.gzip,
            Coding::Zstd => self.zstd,
            Coding::Brotli => self.brotli,
        }
    }
}

/// The q-value, in thousandths, that `accept` gives `coding`: its own
/// entry's, else `*`'s, else 0. A malformed q-value counts as 0.
fn quality(accept: &str, coding: Coding) -> u16 {
    let mut wildcard = None;
    for entry in accept.split(',') {
        let mut parts = entry.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|param| {
                let (key, value) = param.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| parse_q(value.trim()))
            })
            .unwrap_or(1000);
        if coding.names().iter().any(|n| name.eq_ignore_ascii_case(n)) {
            return q;
        }
        if name == "*" {
            wildcard = Some(q);
        }
    }
    wildcard.unwrap_or(0)
}

/// RFC 9110's `qvalue`: `0`, `1`, `0.` and up to three digits, or `1.000`.
fn parse_q(text: &str) -> u16 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |sum, digit| sum * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => thousandths,
        "1" if thousandths == 0 => 1000,
        _ => 0,
    }
}

/// A content coding this crate can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    Zstd,
    Brotli,
}

impl Coding {
    /// The order in which ties are broken.
    const PREFERENCE: [Coding; 3] = [Coding::Gzip, Coding::Zstd, Coding::Brotli];

    /// Its `Content-Encoding` value.
    pub(crate) fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.names()[0])
    }

    /// The names `Accept-Encoding` may give it (`x-gzip` is gzip, RFC 9110
    /// §8.4.1.3).
    fn names(self) -> &'static [&'static str] {
        match self {
            Coding::Gzip => &["gzip", "x-gzip"],
            Coding::Zstd => &["zstd"],
            Coding::Brotli => &["br"],
        }
    }
}

/// A failure inside a compression library: the stream cannot go on, since
/// its client expects compressed bytes.
#[derive(Debug)]
struct CompressFailed(&'static str);

/// One stream's compression context.
enum Compressor {
    Gzip(Gzip),
    Zstd(Zstd),
    Brotli(Brotli),
}

impl Compressor {
    fn new(coding: Coding) -> Result<Compressor, CompressFailed> {
        Ok(match coding {
            Coding::Gzip => Compressor::Gzip(Gzip::new()),
            Coding::Zstd => Compressor::Zstd(Zstd::new()?),
            Coding::Brotli => Compressor::Brotli(Brotli::new()),
        })
    }

    /// Compresses `frame` and flushes: the bytes returned decode to all of
    /// it.
    fn frame(&mut self, frame: &[u8]) -> Result<Vec<u8>, CompressFailed> {
        // Event streams compress to a tenth or less; this is rarely grown.
        let mut out = Vec::with_capacity(frame.len() / 4 + 64);
        match self {
            Compressor::Gzip(gzip) => gzip.frame(frame, &mut out)?,
            Compressor::Zstd(zstd) => zstd.frame(frame, &mut out)?,
            Compressor::Brotli(brotli) => brotli.frame(frame, &mut out)?,
        }
        Ok(out)
    }

    /// The stream waits: give back what can be rebuilt.
    fn idle(&mut self) {
        if let Compressor::Gzip(gzip) = self {
            if let Some(deflate) = gzip.deflate.take() {
                give_back_deflate(deflate);
            }
        }
    }

    /// The end of the compressed stream.
    fn finish(&mut self) -> Result<Vec<u8>, CompressFailed> {
        let mut out = Vec::with_capacity(32);
        match self {
            Compressor::Gzip(gzip) => gzip.finish(&mut out),
            Compressor::Zstd(zstd) => zstd.finish(&mut out)?,
            Compressor::Brotli(brotli) => brotli.finish(&mut out)?,
        }
        Ok(out)
    }
}

/// gzip over raw deflate, with the header and trailer written here, so
/// that the deflate context can be dropped while the stream is idle and a
/// new one, primed with the last [`GZIP_HISTORY`] bytes, can continue the
/// same deflate stream.
struct Gzip {
    /// `None` while the stream is idle.
    deflate: Option<Box<flate2::Compress>>,
    /// The last bytes sent, at most `GZIP_HISTORY`: what the next context
    /// may refer back to.
    history: Vec<u8>,
    crc: flate2::Crc,
    header_sent: bool,
}

/// deflate's window, as a power of two, and the history kept while idle:
/// 4 KiB holds the last dozen or so events of an LLM answer.
const GZIP_WINDOW_BITS: u8 = 12;
const GZIP_HISTORY: usize = 1 << GZIP_WINDOW_BITS;

/// The gzip header (RFC 1952): deflate, no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

impl Gzip {
    fn new() -> Gzip {
        Gzip {
            deflate: None,
            history: Vec::new(),
            crc: flate2::Crc::new(),
            header_sent: false,
        }
    }

    fn frame(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), CompressFailed> {
        if !self.header_sent {
            out.extend_from_slice(&GZIP_HEADER);
            self.header_sent = true;
        }
        let deflate = match &mut self.deflate {
            Some(deflate) => deflate,
            None => {
                let mut deflate = spare_deflate();
                if !self.history.is_empty() {
                    deflate
                        .set_dictionary(&self.history)
                        .map_err(|_| CompressFailed("deflate refused its dictionary"))?;
                }
                self.deflate.insert(deflate)
            }
        };
        let start = deflate.total_in();
        loop {
            let consumed = (deflate.total_in() - start) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(frame.len() - consumed + 64);
            }
            deflate
                .compress_vec(&frame[consumed..], out, flate2::FlushCompress::Sync)
                .map_err(|_| CompressFailed("deflate failed"))?;
            // Done once all input is taken and the flush fit: zlib leaves
            // room in the output when it has nothing more to write.
            if (deflate.total_in() - start) as usize == frame.len() && out.len() < out.capacity() {
                break;
            }
        }
        self.crc.update(frame);
        self.remember(frame);
        Ok(())
    }

    /// Keeps the last `GZIP_HISTORY` bytes sent.
    fn remember(&mut self, frame: &[u8]) {
        let tail = &frame[frame.len().saturating_sub(GZIP_HISTORY)..];
        let keep = GZIP_HISTORY - tail.len();
        let drop = self.history.len().saturating_sub(keep);
        self.history.drain(..drop);
        self.history.extend_from_slice(tail);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.header_sent {
            out.extend_from_slice(&GZIP_HEADER);
        }
        // After a sync flush the deflate stream is at a byte boundary; an
        // empty final block with fixed codes ends it.
        out.extend_from_slice(&[0x03, 0x00]);
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
        if let Some(deflate) = self.deflate.take() {
            give_back_deflate(deflate);
        }
        self.history = Vec::new();
    }
}

thread_local! {
    /// Deflate contexts given back by idle gzip streams, for the next one
    /// that wakes on this thread. Freeing each context (about 260 KiB) and
    /// allocating a new one left the allocator's heap fragmented: an idle
    /// gzip stream cost 116,670 B of resident memory against 24,691 B
    /// uncompressed; with contexts reused, 25,149 B (`cargo bench --bench
    /// e2e -- --compression --quick`, 1,000 idle streams).
    #[allow(clippy::vec_box, reason = "a context moves between its stream (boxed, so that an idle stream's `None` is one word) and the pool as it is")]
    static SPARE_DEFLATE: std::cell::RefCell<Vec<Box<flate2::Compress>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// How many spare contexts a thread keeps: one per stream waking at once
/// on it is enough, since a context goes back as soon as its stream waits.
const SPARE_DEFLATE_MAX: usize = 2;

/// A deflate context ready for a new stretch of the stream: a spare one of
/// this thread's, reset, or a new one.
fn spare_deflate() -> Box<flate2::Compress> {
    let spare = SPARE_DEFLATE
        .try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten();
    match spare {
        Some(mut deflate) => {
            deflate.reset();
            deflate
        }
        None => Box::new(flate2::Compress::new_with_window_bits(
            flate2::Compression::fast(),
            false,
            GZIP_WINDOW_BITS,
        )),
    }
}

/// Keeps `deflate` for the next stream on this thread, or frees it.
fn give_back_deflate(deflate: Box<flate2::Compress>) {
    // At thread exit the pool may be gone: the context is then freed.
    let _ = SPARE_DEFLATE.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < SPARE_DEFLATE_MAX {
            spare.push(deflate);
        }
    });
}

/// zstd at level 1 with a 1 KiB window and 1 KiB tables, rather than the
/// library's defaults (level 3, a window of up to 8 MiB), whose context
/// is megabytes: what an idle stream keeps is in `BENCHMARKS.md`.
struct Zstd {
    context: zstd_safe::CCtx<'static>,
}

const ZSTD_LOG: u32 = 10;

impl Zstd {
    fn new() -> Result<Zstd, CompressFailed> {
        use zstd_safe::CParameter;
        let mut context = zstd_safe::CCtx::try_create()
            .ok_or(CompressFailed("zstd could not allocate a context"))?;
        for parameter in [
            CParameter::CompressionLevel(1),
            CParameter::WindowLog(ZSTD_LOG),
            CParameter::HashLog(ZSTD_LOG),
            CParameter::ChainLog(ZSTD_LOG),
        ] {
            context
                .set_parameter(parameter)
                .map_err(|_| CompressFailed("zstd refused a parameter"))?;
        }
        Ok(Zstd { context })
    }

    fn frame(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), CompressFailed> {
        self.run(
            frame,
            out,
            zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_flush,
        )
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), CompressFailed> {
        self.run(&[], out, zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_end)
    }

    fn run(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        directive: zstd_safe::zstd_sys::ZSTD_EndDirective,
    ) -> Result<(), CompressFailed> {
        let mut input = zstd_safe::InBuffer::around(input);
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(64 + input.src.len() - input.pos);
            }
            let position = out.len();
            let mut output = zstd_safe::OutBuffer::around_pos(out, position);
            let remaining = self
                .context
                .compress_stream2(&mut output, &mut input, directive)
                .map_err(|_| CompressFailed("zstd failed"))?;
            if remaining == 0 {
                return Ok(());
            }
        }
    }
}

/// Brotli at quality 3 (2 and below compress each flushed frame on its
/// own) with its smallest window.
struct Brotli {
    state: Box<brotli::enc::encode::BrotliEncoderStateStruct<brotli::enc::StandardAlloc>>,
}

impl Brotli {
    fn new() -> Brotli {
        use brotli::enc::encode::{BrotliEncoderParameter, BrotliEncoderStateStruct};
        let mut state = Box::new(BrotliEncoderStateStruct::new(
            brotli::enc::StandardAlloc::default(),
        ));
        state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_QUALITY, 3);
        state.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_LGWIN, 10);
        Brotli { state }
    }

    fn frame(&mut self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), CompressFailed> {
        self.run(
            frame,
            out,
            brotli::enc::encode::BrotliEncoderOperation::BROTLI_OPERATION_FLUSH,
        )
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), CompressFailed> {
        self.run(
            &[],
            out,
            brotli::enc::encode::BrotliEncoderOperation::BROTLI_OPERATION_FINISH,
        )
    }

    fn run(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        operation: brotli::enc::encode::BrotliEncoderOperation,
    ) -> Result<(), CompressFailed> {
        let mut available_in = input.len();
        let mut in_offset = 0;
        loop {
            let start = out.len();
            let room = (available_in / 2).max(256);
            out.resize(start + room, 0);
            let mut available_out = room;
            let mut out_offset = start;
            let mut total_out = None;
            let ok = self.state.compress_stream(
                operation,
                &mut available_in,
                input,
                &mut in_offset,
                &mut available_out,
                out,
                &mut out_offset,
                &mut total_out,
                &mut |_, _, _, _| (),
            );
            out.truncate(out_offset);
            if !ok {
                return Err(CompressFailed("brotli failed"));
            }
            if available_in == 0 && !self.state.has_more_output() {
                return Ok(());
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// An SSE body whose frames are compressed, each flushed as it leaves.
    pub(crate) struct CompressedBody<B> {
        #[pin]
        inner: B,
        // Boxed: large, and absent from uncompressed streams' bodies.
        // `None` once the end of the compressed stream is written.
        compressor: Option<Box<Compressor>>,
    }
}

impl<B> CompressedBody<B> {
    /// `None` if the library could not make a context (out of memory).
    pub(crate) fn new(inner: B, coding: Coding) -> Result<CompressedBody<B>, B> {
        match Compressor::new(coding) {
            Ok(compressor) => Ok(CompressedBody {
                inner,
                compressor: Some(Box::new(compressor)),
            }),
            Err(CompressFailed(why)) => {
                tracing::error!(why, "no compression context; the stream is sent as it is");
                Err(inner)
            }
        }
    }
}

/// `body` as a response body, compressed with `coding` if there is one and
/// a context can be made; with the coding applied.
pub(crate) fn compressed_body<B>(
    body: B,
    coding: Option<Coding>,
) -> (axum::body::Body, Option<Coding>)
where
    B: http_body::Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    let Some(coding) = coding else {
        return (axum::body::Body::new(body), None);
    };
    match CompressedBody::new(body, coding) {
        Ok(compressed) => (axum::body::Body::new(compressed), Some(coding)),
        Err(body) => (axum::body::Body::new(body), None),
    }
}

impl<B> http_body::Body for CompressedBody<B>
where
    B: http_body::Body<Data = Bytes, Error = Infallible>,
{
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.project();
        let Some(compressor) = this.compressor else {
            return Poll::Ready(None);
        };
        let compressed = match this.inner.poll_frame(cx) {
            Poll::Pending => {
                compressor.idle();
                return Poll::Pending;
            }
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => compressor.frame(&data),
                // SSE bodies send no trailers.
                Err(_) => return Poll::Ready(None),
            },
            Poll::Ready(None) => {
                let end = compressor.finish();
                *this.compressor = None;
                end
            }
        };
        match compressed {
            Ok(bytes) => Poll::Ready(Some(Ok(Frame::data(Bytes::from(bytes))))),
            Err(CompressFailed(why)) => {
                // Nothing more can be sent that the client could read.
                tracing::error!(why, "compression failed; the stream ends");
                *this.compressor = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.compressor.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> Option<HeaderValue> {
        Some(HeaderValue::from_static(value))
    }

    #[test]
    fn the_clients_q_values_come_first_and_ties_go_to_gzip() {
        let all = Compression::new().brotli(true);
        let pick = |value| all.negotiate(accept(value).as_ref());
        assert_eq!(pick("gzip, deflate, br, zstd"), Some(Coding::Gzip));
        assert_eq!(pick("br, zstd"), Some(Coding::Zstd));
        assert_eq!(pick("br;q=1, gzip;q=0.8"), Some(Coding::Brotli));
        assert_eq!(pick("gzip;q=0.5, zstd;q=0.9"), Some(Coding::Zstd));
        assert_eq!(pick("gzip;q=0, zstd;q=0, br;q=0"), None);
        assert_eq!(pick("*"), Some(Coding::Gzip));
        assert_eq!(pick("*;q=0.1, gzip;q=0"), Some(Coding::Zstd));
        assert_eq!(pick("identity"), None);
        assert_eq!(pick("X-GZIP"), Some(Coding::Gzip));
        assert_eq!(pick("gzip;q=2"), None);
        assert_eq!(pick("gzip;q=0.0001"), None);
        assert_eq!(pick("gzip ; Q=0.5"), Some(Coding::Gzip));
        assert_eq!(all.negotiate(None), None);
        assert_eq!(
            Compression::new().negotiate(accept("br").as_ref()),
            None,
            "Brotli is offered only when asked for"
        );
        assert_eq!(Compression::off().negotiate(accept("gzip").as_ref()), None);
    }

    fn round_trip(coding: Coding, frames: &[&[u8]], idle_between: bool) -> Vec<u8> {
        let mut compressor = Compressor::new(coding).unwrap();
        let mut wire = Vec::new();
        for frame in frames {
            wire.extend(compressor.frame(frame).unwrap());
            if idle_between {
                compressor.idle();
            }
        }
        wire.extend(compressor.finish().unwrap());
        wire
    }

    #[test]
    fn gzip_resumes_the_same_stream_after_giving_its_context_back() {
        let event = b"data: {\"object\":\"chat.completion.chunk\",\"delta\":\"hi\"}\n\n";
        let frames: Vec<&[u8]> = vec![event; 50];
        let kept = round_trip(Coding::Gzip, &frames, false);
        let resumed = round_trip(Coding::Gzip, &frames, true);
        for wire in [&kept, &resumed] {
            let mut decoded = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&wire[..]), &mut decoded)
                .unwrap();
            assert_eq!(decoded, event.repeat(50));
        }
        // The history makes a resumed context as good as a kept one.
        assert!(
            resumed.len() <= kept.len() + 8,
            "{} against {}",
            resumed.len(),
            kept.len()
        );
        assert!(resumed.len() < event.len() * 50 / 5);
    }

    #[test]
    fn an_empty_stream_is_a_valid_gzip_stream() {
        let wire = round_trip(Coding::Gzip, &[], true);
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&wire[..]), &mut decoded)
            .unwrap();
        assert!(decoded.is_empty());
    }

    #[test]
    fn history_keeps_the_last_window_of_bytes() {
        let mut gzip = Gzip::new();
        gzip.remember(&[1; 3000]);
        gzip.remember(&[2; 3000]);
        assert_eq!(gzip.history.len(), GZIP_HISTORY);
        assert_eq!(gzip.history[GZIP_HISTORY - 3000..], [2; 3000]);
        assert!(gzip.history[..GZIP_HISTORY - 3000].iter().all(|&b| b == 1));
        gzip.remember(&[3; 5000]);
        assert_eq!(gzip.history, [3; GZIP_HISTORY]);
    }
}
