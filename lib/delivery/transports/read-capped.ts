/**
 * Reads a response body stream, keeping at most `cap` bytes for the delivery log and draining
 * the rest without buffering it, so keep-alive connections stay reusable.
 */
export async function readCapped(
  stream: AsyncIterable<Uint8Array | string>,
  cap: number,
): Promise<string> {
  const kept: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (size >= cap) continue;
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    const room = cap - size;
    kept.push(buffer.length > room ? buffer.subarray(0, room) : buffer);
    size += Math.min(buffer.length, room);
  }
  return Buffer.concat(kept).toString('utf8');
}

/** A short, secret-free description of why an attempt got no HTTP answer. */
export function describeFailure(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; code?: string; message?: string; cause?: unknown };
  if (
    err?.name === 'TimeoutError' ||
    err?.code === 'ECONNABORTED' ||
    err?.code === 'ETIMEDOUT' ||
    err?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    err?.code === 'UND_ERR_BODY_TIMEOUT' ||
    err?.code === 'ERR_CANCELED'
  ) {
    return `timeout: no complete answer within ${timeoutMs} ms`;
  }
  if (err?.cause && !err.code) return describeFailure(err.cause, timeoutMs);
  const code = err?.code ? `${err.code}: ` : '';
  return `${code}${err?.message ?? String(error)}`;
}
