/** One server-sent event, as the HTML spec's event-stream parser dispatches it. */
export type SseMessage = { readonly id?: string; readonly event: string; readonly data: string };

/**
 * Parses a `text/event-stream` body (HTML Living Standard, §9.2.6). EventSource exists in
 * browsers only and cannot send an Authorization header; this works over `fetch` in a
 * SharedWorker, a dedicated worker and Node alike. Comments (`: ping`) and `retry:` are skipped.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  // Streaming decode: a UTF-8 character may be split across chunks.
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      // Per the spec a line ends at CRLF, LF or CR; a blank line dispatches the event.
      for (let match = /\r\n|\n|\r/.exec(buffer); match; match = /\r\n|\n|\r/.exec(buffer)) {
        // A lone CR at the end of a chunk may be half of a CRLF: wait for more.
        if (match[0] === '\r' && match.index === buffer.length - 1) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === '') {
          if (data.length > 0) yield { id, event: event || 'message', data: data.join('\n') };
          data = [];
          event = '';
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
