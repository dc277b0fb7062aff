//! Statement outputs as protocol messages: completions, row descriptions and data rows, push
//! queries streamed row by row (each flushed as it happens), COPY out data.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{stream, Sink, SinkExt, StreamExt};
use pgwire::api::copy::{send_copy_in_response, send_copy_out_response};
use pgwire::api::portal::Format;
use pgwire::api::results::{
    CopyCsvOptions, CopyEncoder, CopyResponse, CopyTextOptions, FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;
use pgwire::messages::data::{DataRow, RowDescription};
use pgwire::messages::response::{CommandComplete, NoticeResponse};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage;

use super::connection::{format_options, user_error, zone};
use super::encode::{batch_rows, column_fields, encode_cell, encode_value, schema_fields, value_row, Fields};
use crate::engine::{CopyFormat, CopyIn, CopyOptions, Output, RowChannel};
use crate::session::Session;

/// How often an idle push query checks that its client is still connected.
const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(1);

/// What a finished output leaves the connection in.
pub enum Next {
    /// Ready for the next statement.
    Continue,
    /// A COPY FROM STDIN began: the client sends data next.
    CopyIn(CopyIn),
}

/// Fields and data rows of a finite output.
pub fn table(output: Output, format: &Format, session: &Session) -> PgWireResult<(Arc<Vec<FieldInfo>>, Vec<DataRow>)> {
    let options = format_options(session);
    match output {
        Output::Rows { columns, rows } => {
            let fields = column_fields(&columns, format, &options);
            let types: Vec<_> = columns.iter().map(|c| c.ty.clone()).collect();
            let rows = rows.iter().map(|r| value_row(&fields, &types, r)).collect::<PgWireResult<Vec<_>>>()?;
            Ok((fields, rows))
        }
        Output::Batches { schema, batches } => {
            let fields = schema_fields(&schema, format, &options);
            let zone = zone(session);
            let mut rows = Vec::new();
            for batch in &batches {
                rows.extend(batch_rows(&fields, batch, &zone)?);
            }
            Ok((fields, rows))
        }
        _ => Ok((Arc::new(Vec::new()), Vec::new())),
    }
}

async fn complete<C>(client: &mut C, tag: Tag) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    client.feed(PgWireBackendMessage::CommandComplete(CommandComplete::from(tag))).await?;
    Ok(())
}

/// A completion tag: Eddy's tags may carry their row count already (`INSERT 0 1`, `FETCH 5`).
fn tag_of(text: &str) -> Tag {
    Tag::new(text)
}

/// Sends an output in the simple protocol.
pub async fn send_simple<C>(client: &mut C, session: &Session, output: Output) -> PgWireResult<Next>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    match output {
        Output::Done { tag, message, status } => {
            if let Some(m) = message {
                let notice = ErrorInfo::new("NOTICE".into(), "00000".into(), m);
                client.feed(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(notice))).await?;
            }
            for (name, value) in status {
                client.feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(name, value))).await?;
            }
            complete(client, tag_of(&tag)).await?;
        }
        Output::Rows { .. } | Output::Batches { .. } => {
            let (fields, rows) = table(output, &Format::UnifiedText, session)?;
            send_rows(client, &fields, rows, Tag::new("SELECT")).await?;
        }
        Output::Tagged { tag, output } => match *output {
            Output::Done { .. } => complete(client, tag_of(&tag)).await?,
            inner => {
                let (fields, rows) = table(inner, &Format::UnifiedText, session)?;
                send_described_rows(client, &fields, rows, tag_of(&tag)).await?;
            }
        },
        Output::Stream(channel) => {
            let fields = column_fields(&channel.columns, &Format::UnifiedText, &format_options(session));
            let sent = stream_rows(client, channel, &fields, true).await?;
            complete(client, Tag::new("SELECT").with_rows(sent)).await?;
        }
        Output::CopyOut { options, output } => {
            send_copy_out_response(client, copy_out(&options, *output, session)?).await?;
        }
        Output::CopyIn(copy) => {
            send_copy_in_response(client, copy_in_response(&copy)).await?;
            return Ok(Next::CopyIn(copy));
        }
        Output::CursorDeclared(_) => complete(client, Tag::new("DECLARE CURSOR")).await?,
    }
    Ok(Next::Continue)
}

async fn send_rows<C>(client: &mut C, fields: &Arc<Vec<FieldInfo>>, rows: Vec<DataRow>, tag: Tag) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let n = rows.len();
    send_described_rows(client, fields, rows, tag.with_rows(n)).await
}

async fn send_described_rows<C>(
    client: &mut C,
    fields: &Arc<Vec<FieldInfo>>,
    rows: Vec<DataRow>,
    tag: Tag,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let description = RowDescription::new(fields.iter().map(Into::into).collect());
    client.feed(PgWireBackendMessage::RowDescription(description)).await?;
    for row in rows {
        client.feed(PgWireBackendMessage::DataRow(row)).await?;
    }
    complete(client, tag).await
}

/// Streams a push query's rows, flushing each one so it reaches the client at once. Returns the
/// number of rows sent; ends at LIMIT, at the end of the stream, or when the client goes away.
pub async fn stream_rows<C>(
    client: &mut C,
    channel: RowChannel,
    fields: &Arc<Vec<FieldInfo>>,
    describe: bool,
) -> PgWireResult<usize>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let RowChannel { columns, mut rows, limit } = channel;
    let types: Vec<_> = columns.iter().map(|c| c.ty.clone()).collect();
    if describe {
        let desc = RowDescription::new(fields.iter().map(Into::into).collect());
        client.send(PgWireBackendMessage::RowDescription(desc)).await?;
    }
    let mut sent = 0usize;
    if limit == Some(0) {
        return Ok(0);
    }
    // While no row flows, a harmless ParameterStatus every second finds out whether the client is
    // still there: writing to a closed connection fails, which ends the query and frees its consumer.
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    loop {
        let row = tokio::select! {
            row = rows.recv() => row,
            _ = keepalive.tick() => {
                let status = ParameterStatus::new("integer_datetimes".into(), "on".into());
                client.send(PgWireBackendMessage::ParameterStatus(status)).await?;
                continue;
            }
        };
        let Some(row) = row else { break };
        let row = row.map_err(|e| user_error(&e))?;
        client.send(PgWireBackendMessage::DataRow(value_row(fields, &types, &row)?)).await?;
        keepalive.reset();
        sent += 1;
        if limit.is_some_and(|l| sent as u64 >= l) {
            break;
        }
    }
    Ok(sent)
}

/// The CopyInResponse of a COPY FROM STDIN.
pub fn copy_in_response(copy: &CopyIn) -> CopyResponse {
    let format = if copy.options.format == CopyFormat::Binary { 1 } else { 0 };
    CopyResponse::new(format, copy.columns.len(), stream::empty())
}

/// The COPY data of an output (rows of a push query stream until its LIMIT or cancel).
pub fn copy_out(options: &CopyOptions, output: Output, session: &Session) -> PgWireResult<CopyResponse> {
    let format_options = format_options(session);
    let zone = zone(session);
    let binary = options.format == CopyFormat::Binary;
    let format = if binary { Format::UnifiedBinary } else { Format::UnifiedText };
    let (fields, source): (Arc<Vec<FieldInfo>>, CopySource) = match output {
        Output::Rows { columns, rows } => (
            column_fields(&columns, &format, &format_options),
            CopySource::Values(columns.into_iter().map(|c| c.ty).collect(), rows),
        ),
        Output::Batches { schema, batches } => {
            (schema_fields(&schema, &format, &format_options), CopySource::Batches(batches))
        }
        Output::Stream(channel) => {
            (column_fields(&channel.columns, &format, &format_options), CopySource::Stream(channel))
        }
        _ => {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".into(),
                "42601".into(),
                "COPY needs a query".into(),
            ))))
        }
    };
    let columns = fields.len();
    let new_encoder = {
        let fields = fields.clone();
        let options = options.clone();
        move || match options.format {
            CopyFormat::Binary => CopyEncoder::new_binary(fields.clone()),
            CopyFormat::Text => CopyEncoder::new_text(
                fields.clone(),
                CopyTextOptions {
                    delimiter: options.delimiter.to_string().into(),
                    null_string: options.null.clone().into(),
                },
            ),
            CopyFormat::Csv => CopyEncoder::new_csv(
                fields.clone(),
                CopyCsvOptions {
                    delimiter: options.delimiter.to_string().into(),
                    quote: options.quote.to_string().into(),
                    escape: options.escape.to_string().into(),
                    null_string: options.null.clone().into(),
                    force_quote: Vec::new(),
                },
            ),
        }
    };
    let mut encoder = Fields::new(new_encoder(), fields.clone());
    let mut chunks: Vec<PgWireResult<CopyData>> = Vec::new();
    // The header line travels with the first row: pgwire counts COPY's rows by data messages.
    let mut header = (options.header && !binary).then(|| header_line(options, &fields).data);
    let trailer = move || binary.then(CopyEncoder::finish_copy_binary);
    let stream: futures::stream::BoxStream<'static, PgWireResult<CopyData>> = match source {
        CopySource::Values(types, rows) => {
            for row in rows {
                encoder.restart();
                for (ty, v) in types.iter().zip(&row) {
                    encode_value(&mut encoder, ty, v)?;
                }
                chunks.push(Ok(with_header(&mut header, encoder.encoder.take_copy())));
            }
            chunks.extend(header.take().map(|h| Ok(CopyData::new(h))));
            chunks.extend(trailer().map(Ok));
            stream::iter(chunks).boxed()
        }
        CopySource::Batches(batches) => {
            for batch in batches {
                for row in 0..batch.num_rows() {
                    encoder.restart();
                    for (column, field) in batch.columns().iter().zip(fields.iter()) {
                        encode_cell(&mut encoder, column, row, field.datatype(), &zone)?;
                    }
                    chunks.push(Ok(with_header(&mut header, encoder.encoder.take_copy())));
                }
            }
            chunks.extend(header.take().map(|h| Ok(CopyData::new(h))));
            chunks.extend(trailer().map(Ok));
            stream::iter(chunks).boxed()
        }
        CopySource::Stream(channel) => {
            let types: Vec<_> = channel.columns.iter().map(|c| c.ty.clone()).collect();
            let limit = channel.limit;
            let head = stream::iter(chunks);
            let rows = stream::unfold(
                (channel.rows, encoder, 0u64, header),
                move |(mut rx, mut encoder, sent, mut header)| {
                    let types = types.clone();
                    async move {
                        if limit.is_some_and(|l| sent >= l) {
                            return None;
                        }
                        let row = rx.recv().await?;
                        let data = row.map_err(|e| user_error(&e)).and_then(|row| {
                            encoder.restart();
                            for (ty, v) in types.iter().zip(&row) {
                                encode_value(&mut encoder, ty, v)?;
                            }
                            Ok(with_header(&mut header, encoder.encoder.take_copy()))
                        });
                        Some((data, (rx, encoder, sent + 1, header)))
                    }
                },
            );
            head.chain(rows).chain(stream::iter(trailer().map(Ok))).boxed()
        }
    };
    Ok(CopyResponse::new(if binary { 1 } else { 0 }, columns, stream))
}

enum CopySource {
    Values(Vec<eddy_catalog::SqlType>, Vec<Vec<eddy_runtime::Value>>),
    Batches(Vec<arrow::record_batch::RecordBatch>),
    Stream(RowChannel),
}

/// An output as an extended-protocol response (rows in the portal's result formats).
pub fn response(output: Output, format: &Format, session: &Session) -> PgWireResult<Response> {
    Ok(match output {
        Output::Done { tag, .. } => Response::Execution(tag_of(&tag)),
        Output::Rows { .. } | Output::Batches { .. } => {
            let (fields, rows) = table(output, format, session)?;
            Response::Query(QueryResponse::new(fields, stream::iter(rows.into_iter().map(Ok))))
        }
        Output::Tagged { tag, output } => match *output {
            Output::Done { .. } => Response::Execution(tag_of(&tag)),
            inner => {
                let (fields, rows) = table(inner, format, session)?;
                let mut response = QueryResponse::new(fields, stream::iter(rows.into_iter().map(Ok)));
                response.set_command_tag(tag.split_whitespace().next().unwrap_or("FETCH"));
                Response::Query(response)
            }
        },
        Output::Stream(channel) => {
            // Rows as they happen; the portal hands them out max_rows at a time (PortalSuspended).
            let fields = column_fields(&channel.columns, format, &format_options(session));
            let types: Vec<_> = channel.columns.iter().map(|c| c.ty.clone()).collect();
            let limit = channel.limit;
            let row_fields = fields.clone();
            let rows = stream::unfold((channel.rows, 0u64), move |(mut rx, sent)| {
                let (fields, types) = (row_fields.clone(), types.clone());
                async move {
                    if limit.is_some_and(|l| sent >= l) {
                        return None;
                    }
                    let row = rx.recv().await?;
                    let data = row.map_err(|e| user_error(&e)).and_then(|r| value_row(&fields, &types, &r));
                    Some((data, (rx, sent + 1)))
                }
            });
            Response::Query(QueryResponse::new(fields, rows))
        }
        Output::CopyOut { options, output } => Response::CopyOut(copy_out(&options, *output, session)?),
        Output::CopyIn(copy) => Response::CopyIn(copy_in_response(&copy)),
        Output::CursorDeclared(_) => Response::Execution(Tag::new("DECLARE CURSOR")),
    })
}

/// A chunk of COPY data with the header line before it, the first time.
fn with_header(header: &mut Option<bytes::Bytes>, chunk: CopyData) -> CopyData {
    match header.take() {
        None => chunk,
        Some(h) => {
            let mut joined = bytes::BytesMut::from(h.as_ref());
            joined.extend_from_slice(&chunk.data);
            CopyData::new(joined.freeze())
        }
    }
}

/// The header line of text or CSV COPY data: the column names.
fn header_line(options: &CopyOptions, fields: &[FieldInfo]) -> CopyData {
    let names: Vec<String> = fields
        .iter()
        .map(|f| {
            let name = f.name();
            let needs_quotes = options.format == CopyFormat::Csv
                && (name.contains(options.delimiter) || name.contains(options.quote) || name.contains('\n'));
            if needs_quotes {
                let q = options.quote.to_string();
                format!("{q}{}{q}", name.replace(&q, &format!("{q}{q}")))
            } else {
                name.to_string()
            }
        })
        .collect();
    let line = format!("{}\n", names.join(&options.delimiter.to_string()));
    CopyData::new(bytes::Bytes::from(line.into_bytes()))
}
